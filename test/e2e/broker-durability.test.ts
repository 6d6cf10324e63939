/**
 * Durability of the embedded broker under `kill -9`: an idempotent acks=all producer
 * writes checksummed records while the broker process is killed at arbitrary moments and
 * restarted on the same data directory and port, over and over. Afterwards every
 * acknowledged record is in the log exactly once and in order, and no record ever served
 * (during the run or after) fails its content checksum.
 */
import assert from 'node:assert/strict';
import { randomBytes, randomInt } from 'node:crypto';
import path from 'node:path';
import { test } from 'node:test';
import { crc32c } from '@node-rs/crc32';
import { Kafka, logLevel } from 'kafkajs';
import { startBrokerProcess, type BrokerProcess } from '../support/broker-process.js';
import { eventually } from '../support/eventually.js';
import { tempDir } from '../support/temp-dir.js';

process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1';

const KILLS = 20;
const TOPIC = 'durable';

/** value = seq (u32) | payload | crc32c(seq | payload) (u32) */
function record(seq: number): Buffer {
  const body = Buffer.concat([Buffer.alloc(4), randomBytes(randomInt(16, 4096))]);
  body.writeUInt32BE(seq, 0);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32c(body), 0);
  return Buffer.concat([body, crc]);
}

/** The record's sequence number, or an error message when its checksum fails. */
function check(value: Buffer | null): number | string {
  if (value === null || value.length < 8) return `record of ${value?.length} bytes`;
  const body = value.subarray(0, value.length - 4);
  if (crc32c(body) !== value.readUInt32BE(value.length - 4)) return 'checksum mismatch';
  return body.readUInt32BE(0);
}

test('acknowledged records survive repeated kill -9 exactly once, in order, never torn', async (t) => {
  const dir = await tempDir(t, 'durability');
  const dataDir = path.join(dir.path, 'data');
  let broker: BrokerProcess = await startBrokerProcess({ dataDir, port: 0 });
  const port = broker.port;
  t.after(() => {
    if (broker.child.exitCode === null) process.kill(broker.pid, 'SIGKILL');
  });
  const kafka = new Kafka({
    brokers: [broker.address],
    clientId: 'durability',
    connectionTimeout: 1000,
    requestTimeout: 10_000,
    retry: { retries: 1000, initialRetryTime: 50, maxRetryTime: 500 },
    logLevel: logLevel.NOTHING,
  });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: TOPIC, numPartitions: 1 }] });
  await admin.disconnect();

  // A reader that keeps consuming through the kills: whatever it is served must be whole.
  const served = new Map<number, number | string>();
  const reader = kafka.consumer({
    groupId: 'watcher',
    maxWaitTimeInMs: 100,
    retry: { retries: 1000 },
  });
  await reader.connect();
  t.after(() => reader.disconnect());
  await reader.subscribe({ topic: TOPIC, fromBeginning: true });
  await reader.run({
    eachMessage: async ({ message }) => {
      served.set(Number(message.offset), check(message.value));
    },
  });

  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const acknowledged: number[] = [];
  let stop = false;
  const producing = (async () => {
    let seq = 0;
    while (!stop) {
      const count = randomInt(1, 8);
      const messages = Array.from({ length: count }, (_, i) => ({
        key: 'disk-0',
        value: record(seq + i),
      }));
      await producer.send({ topic: TOPIC, acks: -1, messages });
      for (let i = 0; i < count; i++) acknowledged.push(seq + i);
      seq += count;
    }
  })();

  for (let kill = 0; kill < KILLS; kill++) {
    const target = acknowledged.length + randomInt(1, 40);
    await eventually(`${target} acknowledged records before kill ${kill + 1}`, () =>
      acknowledged.length >= target ? true : undefined,
    );
    process.kill(broker.pid, 'SIGKILL');
    assert.equal(await broker.exited, 'SIGKILL');
    broker = await startBrokerProcess({ dataDir, port });
  }
  stop = true;
  await producing;
  await producer.disconnect();

  // The watcher's client may fall behind or give up across so many restarts; what counts is
  // that nothing it was served is torn.
  assert.ok(served.size > 0, 'the watcher was served no records');
  const torn = [...served].filter(([, outcome]) => typeof outcome === 'string');
  assert.deepEqual(torn, [], 'records served during the kills failed their checksum');

  const verifier = kafka.consumer({ groupId: 'verifier', maxWaitTimeInMs: 100 });
  await verifier.connect();
  t.after(() => verifier.disconnect());
  await verifier.subscribe({ topic: TOPIC, fromBeginning: true });
  const log: { offset: number; outcome: number | string }[] = [];
  await verifier.run({
    eachMessage: async ({ message }) => {
      log.push({ offset: Number(message.offset), outcome: check(message.value) });
    },
  });
  await eventually(
    'the verifier to read the log',
    () => (log.length >= acknowledged.length ? true : undefined),
    60_000,
  );
  assert.equal(
    log.length,
    acknowledged.length,
    `log holds ${log.length} records, ${acknowledged.length} acknowledged`,
  );
  assert.deepEqual(
    log.map((entry) => entry.outcome),
    acknowledged,
    'each acknowledged record exactly once, in order, intact',
  );
  assert.deepEqual(
    log.map((entry) => entry.offset),
    acknowledged.map((_, i) => i),
  );
  t.diagnostic(
    `${acknowledged.length} records acknowledged across ${KILLS} kills; watcher served ${served.size}`,
  );

  await verifier.disconnect();
  await reader.disconnect();
  process.kill(broker.pid, 'SIGTERM');
  assert.equal(await broker.exited, 0, `clean stop failed:\n${broker.stderr()}`);
});
