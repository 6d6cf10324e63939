/** `startBroker` option and start-up failures, and its traffic metrics. */
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { Kafka, logLevel } from 'kafkajs';
import { startBroker } from '../../../log/broker/broker.js';
import { LogError } from '../../../log/errors.js';
import { startTestBroker } from '../../support/test-broker.js';
import { tempDir } from '../../support/temp-dir.js';

test('a port in use is reported, and the store is left closed for the next start', async (t) => {
  const first = await startTestBroker(t.after.bind(t));
  const dir = await tempDir(t, 'start-broker');
  await assert.rejects(
    startBroker({ dataDir: dir.path, port: first.port }),
    (error: unknown) =>
      error instanceof LogError &&
      error.code === 'EXTENTLOG_ERR_LOG_BROKER_LISTEN' &&
      error.message.includes(String(first.port)),
  );
  const second = await startBroker({ dataDir: dir.path, port: 0 });
  await second.close();
});

test('unreadable TLS files and bad options are refused before anything starts', async (t) => {
  const dir = await tempDir(t, 'start-broker');
  const missing = path.join(dir.path, 'nope.pem');
  await assert.rejects(
    startBroker({ dataDir: dir.path, port: 0, tls: { certFile: missing, keyFile: missing } }),
    (error: unknown) =>
      error instanceof LogError &&
      error.code === 'EXTENTLOG_ERR_LOG_BROKER_OPTIONS' &&
      error.message.includes(missing),
  );
  await assert.rejects(
    startBroker({ dataDir: dir.path, port: 70_000 }),
    /port 70000: expected an integer in 0..65535/,
  );
  await assert.rejects(
    startBroker({ dataDir: dir.path, port: 0, topicDefaults: { retentionMs: -7 } }),
    /topicDefaults: retention.ms/,
  );
});

test('metrics count bytes, connections and requests by API', async (t) => {
  const broker = await startTestBroker(t.after.bind(t));
  const admin = new Kafka({ brokers: [broker.address], logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  await admin.listTopics();
  const during = broker.metrics();
  await admin.disconnect();
  assert.ok(during.connectionsOpen >= 1);
  assert.ok(during.bytesIn > 0 && during.bytesOut > 0);
  assert.ok((during.requestsByApi.ApiVersions ?? 0) >= 1);
  assert.ok((during.requestsByApi.Metadata ?? 0) >= 1);
  assert.equal(
    during.requests,
    Object.values(during.requestsByApi).reduce((a, b) => a + b, 0),
  );
});
