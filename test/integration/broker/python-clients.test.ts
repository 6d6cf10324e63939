/**
 * The embedded broker driven by two Python clients from Debian: kafka-python 2.0.2 (its own
 * protocol implementation) and confluent-kafka (librdkafka 2.0.2). Each produces, consumes
 * in a group and commits; the committed offsets are then read back with kafkajs.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Kafka, logLevel } from 'kafkajs';
import { startTestBroker } from '../../support/test-broker.js';

const run = promisify(execFile);
const scripts = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '../../../../test/python',
);

const broker = await startTestBroker(after);
const admin = new Kafka({ brokers: [broker.address], logLevel: logLevel.NOTHING }).admin();
await admin.connect();
after(() => admin.disconnect());

interface ClientReport {
  produced: number[];
  consumed: string[];
  committed: number;
}

async function runClient(
  script: string,
  topic: string,
  group: string,
  count: number,
  target: { address: string; auth?: readonly string[] } = broker,
) {
  const { stdout } = await run(
    '/usr/bin/python3',
    [
      path.join(scripts, script),
      target.address,
      topic,
      group,
      String(count),
      ...(target.auth ?? []),
    ],
    { timeout: 120_000, killSignal: 'SIGKILL' },
  );
  return JSON.parse(stdout) as ClientReport;
}

for (const [script, prefix] of [
  ['kafka_python_client.py', 'kafka-python'],
  ['confluent_kafka_client.py', 'confluent'],
] as const) {
  test(`${prefix}: produce, group consume and commit`, async () => {
    const topic = `py-${prefix}`;
    await admin.createTopics({ topics: [{ topic, numPartitions: 1 }] });
    const count = 50;
    const report = await runClient(script, topic, `${prefix}-group`, count);
    assert.deepEqual(
      [...report.produced].sort((a, b) => a - b),
      Array.from({ length: count }, (_, i) => i),
    );
    assert.deepEqual(
      report.consumed,
      Array.from({ length: count }, (_, i) => `${prefix}-${i}`),
    );
    assert.equal(report.committed, count);
    const [offsets] = await admin.fetchOffsets({ groupId: `${prefix}-group`, topics: [topic] });
    assert.equal(offsets?.partitions[0]?.offset, String(count));
  });
}

test('kafka-python authenticates with SaslHandshake v0 and bare tokens (PLAIN, SCRAM-SHA-256)', async (t) => {
  const users = [{ username: 'py', password: 'py-secret' }];
  const secured = await startTestBroker(t.after.bind(t), { sasl: { users } });
  for (const mechanism of ['PLAIN', 'SCRAM-SHA-256']) {
    const topic = `py-sasl-${mechanism.toLowerCase()}`;
    await secured.store.createTopic(topic, 1, {});
    const report = await runClient('kafka_python_client.py', topic, `${topic}-group`, 5, {
      address: secured.address,
      auth: [mechanism, 'py', 'py-secret'],
    });
    assert.deepEqual(report.consumed, [
      'kafka-python-0',
      'kafka-python-1',
      'kafka-python-2',
      'kafka-python-3',
      'kafka-python-4',
    ]);
    assert.equal(report.committed, 5);
  }
});
