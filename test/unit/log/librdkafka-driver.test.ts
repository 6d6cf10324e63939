/**
 * The librdkafka driver's pure parts: finding (or not) its optional package, translating
 * librdkafka error codes and connection settings, and the configuration key that picks it.
 */
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { parseConfig } from '../../../bin/config/load-config.js';
import { resolveLogDriver } from '../../../log/client-factory.js';
import { LogError } from '../../../log/errors.js';
import { connectionProperties } from '../../../log/librdkafka/librdkafka-config.js';
import { toLogError } from '../../../log/librdkafka/librdkafka-errors.js';
import {
  librdkafkaAvailability,
  requireLibrdkafka,
} from '../../../log/librdkafka/load-librdkafka.js';
import { tempDir } from '../../support/temp-dir.js';

test('a missing librdkafka package is a LogError naming the set-up command', async (t) => {
  const dir = await tempDir(t, 'librdkafka-missing');
  assert.equal(librdkafkaAvailability(dir.path).available, false);
  assert.throws(
    () => requireLibrdkafka(dir.path),
    (error: unknown) => {
      assert.ok(error instanceof LogError);
      assert.equal(error.code, 'EXTENTLOG_ERR_LOG_DRIVER_NOT_INSTALLED');
      assert.match(error.message, /not installed in .*librdkafka-missing/);
      assert.match(error.message, /run scripts\/setup\.sh --librdkafka/);
      assert.match(error.message, /logDriver: kafkajs/);
      return true;
    },
  );
});

test('an installed package whose binding does not load says so', async (t) => {
  const dir = await tempDir(t, 'librdkafka-broken');
  const packageDir = path.join(dir.path, 'node_modules', '@confluentinc', 'kafka-javascript');
  await mkdir(packageDir, { recursive: true });
  await writeFile(path.join(dir.path, 'package.json'), '{"private":true}');
  await writeFile(path.join(packageDir, 'package.json'), '{"main":"index.js"}');
  await writeFile(
    path.join(packageDir, 'index.js'),
    "throw new Error('confluent-kafka-javascript.node: not built for this Node.js');",
  );
  assert.throws(
    () => requireLibrdkafka(dir.path),
    /does not load: confluent-kafka-javascript\.node: not built for this Node\.js; run scripts\/setup\.sh --librdkafka/,
  );
});

test('an explicit driver is taken as it is; auto follows what is installed', () => {
  assert.equal(resolveLogDriver('kafkajs'), 'kafkajs');
  assert.equal(resolveLogDriver('librdkafka'), 'librdkafka');
  assert.equal(
    resolveLogDriver('auto'),
    librdkafkaAvailability().available ? 'librdkafka' : 'kafkajs',
  );
});

test('librdkafka error codes map to log error codes through the table', () => {
  const timedOut = toLogError(
    Object.assign(new Error('Local: Message timed out'), { code: -192 }),
    'produce to t[0]',
    'EXTENTLOG_ERR_LOG_PRODUCE',
  );
  assert.equal(timedOut.code, 'EXTENTLOG_ERR_LOG_PRODUCE');
  assert.equal(timedOut.retriable, true);
  assert.equal(
    timedOut.message,
    'produce to t[0] failed: Local: Message timed out (librdkafka _MSG_TIMED_OUT)',
  );
  assert.equal(timedOut.details.rdkafkaCode, -192);

  const unknownTopic = toLogError(
    Object.assign(new Error('Broker: Unknown topic or partition'), { code: 3 }),
    'produce to t[0]',
    'EXTENTLOG_ERR_LOG_PRODUCE',
  );
  assert.equal(unknownTopic.code, 'EXTENTLOG_ERR_LOG_TOPIC');
  assert.equal(unknownTopic.retriable, false);

  const tooLarge = toLogError({ code: 10, message: 'x' }, 'produce', 'EXTENTLOG_ERR_LOG_PRODUCE');
  assert.equal(tooLarge.code, 'EXTENTLOG_ERR_LOG_RECORD_TOO_LARGE');

  // Not in the table: the operation's code, and librdkafka's own retriable flag.
  const other = toLogError(
    Object.assign(new Error('Broker: Some new error'), { code: 999, isRetriable: false }),
    'committing',
    'EXTENTLOG_ERR_LOG_CONSUME',
  );
  assert.equal(other.code, 'EXTENTLOG_ERR_LOG_CONSUME');
  assert.equal(other.retriable, true, "the code's default when librdkafka does not say retriable");
  assert.match(other.message, /\(librdkafka 999\)$/);
});

test('connection settings become librdkafka properties', async (t) => {
  const dir = await tempDir(t, 'librdkafka-config');
  const passwordFile = path.join(dir.path, 'password');
  const caFile = path.join(dir.path, 'ca.pem');
  await writeFile(passwordFile, 's3cret\n');
  await writeFile(caFile, '-----BEGIN CERTIFICATE-----\n');
  const properties = connectionProperties({
    brokers: ['k1:9093', 'k2:9093'],
    clientId: 'extentlog',
    sasl: { mechanism: 'scram-sha-512', username: 'feed', passwordFile },
    tls: { caFile, rejectUnauthorized: false },
    connectionTimeoutMs: 500,
  });
  assert.equal(properties['bootstrap.servers'], 'k1:9093,k2:9093');
  assert.equal(properties['security.protocol'], 'sasl_ssl');
  assert.equal(properties['sasl.mechanisms'], 'SCRAM-SHA-512');
  assert.equal(properties['sasl.password'], 's3cret');
  assert.equal(properties['ssl.ca.pem'], '-----BEGIN CERTIFICATE-----');
  assert.equal(properties['enable.ssl.certificate.verification'], false);
  assert.equal(properties['socket.connection.setup.timeout.ms'], 1000);
  assert.equal(
    connectionProperties({ brokers: ['k:9092'], clientId: 'x' })['security.protocol'],
    'plaintext',
  );
  assert.throws(
    () =>
      connectionProperties({
        brokers: ['k:9093'],
        clientId: 'x',
        tls: { serverName: 'kafka.internal' },
      }),
    (error: unknown) =>
      error instanceof LogError &&
      error.code === 'EXTENTLOG_ERR_LOG_CONFIG' &&
      error.message.includes('kafka.tls.serverName'),
  );
});

test('logDriver defaults to auto and accepts only the known drivers', () => {
  assert.equal(parseConfig({}, 'test').logDriver, 'auto');
  assert.equal(parseConfig({ logDriver: 'librdkafka' }, 'test').logDriver, 'librdkafka');
  assert.throws(() => parseConfig({ logDriver: 'rdkafka' }, 'test'), /logDriver/);
});
