/**
 * The log port over kafkajs against the embedded broker: ordered idempotent sends with a
 * bounded in-flight window, range reads (also abandoned half-way), topic growth, and group
 * commits with metadata.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createLogClient } from '../../../log/client-factory.js';
import type { LogClient } from '../../../log/log-client.js';
import { silentLogger } from '../../support/silent-logger.js';
import { startTestBroker } from '../../support/test-broker.js';

async function client(
  t: { after(fn: () => Promise<void>): void },
  address: string,
): Promise<LogClient> {
  const log = await createLogClient({
    connection: { brokers: [address], clientId: 'log-test' },
    logger: silentLogger,
  });
  t.after(() => log.close());
  return log;
}

test('sends keep their order per partition and the in-flight window stays bounded', async (t) => {
  const broker = await startTestBroker((fn) => t.after(fn));
  const log = await client(t, broker.address);
  await log.admin.ensureTopic({ topic: 'ordered', partitions: 2 });
  const producer = await log.producer({ maxInFlightBytes: 256 * 1024 });
  const value = Buffer.alloc(64 * 1024, 1);
  let peak = 0;
  for (let index = 0; index < 64; index += 1) {
    await producer.publish('ordered', index % 2, [{ key: Buffer.from(String(index)), value }]);
    peak = Math.max(peak, producer.inFlightBytes());
  }
  await producer.flush();
  assert.ok(peak <= 256 * 1024 + 64 * 1024 + 64, `in-flight bytes peaked at ${peak}`);
  const keys: number[] = [];
  for await (const message of log.readRange({ topic: 'ordered', partition: 1, fromOffset: 0 }))
    keys.push(Number(message.key!.toString()));
  assert.deepEqual(
    keys,
    Array.from({ length: 32 }, (_, index) => index * 2 + 1),
  );
  await producer.close();
});

test('a range read stopped early releases its consumer, and the next read works', async (t) => {
  const broker = await startTestBroker((fn) => t.after(fn));
  const log = await client(t, broker.address);
  await log.admin.ensureTopic({ topic: 'ranges', partitions: 1 });
  const producer = await log.producer();
  for (let index = 0; index < 20; index += 1)
    await producer.send('ranges', 0, [{ key: null, value: Buffer.from(`v${index}`) }]);
  await producer.close();
  for (let round = 0; round < 3; round += 1) {
    for await (const message of log.readRange({ topic: 'ranges', partition: 0, fromOffset: 5 })) {
      assert.equal(message.value!.toString(), 'v5');
      break;
    }
  }
  const tail: string[] = [];
  for await (const message of log.readRange({
    topic: 'ranges',
    partition: 0,
    fromOffset: 17,
    toOffset: 19,
  }))
    tail.push(message.value!.toString());
  assert.deepEqual(tail, ['v17', 'v18']);
  await assert.rejects(async () => {
    for await (const _ of log.readRange({ topic: 'ranges', partition: 3, fromOffset: 0 })) break;
  }, /has no partition 3/);
});

test('ensureTopic creates, then grows, and group offsets keep their metadata', async (t) => {
  const broker = await startTestBroker((fn) => t.after(fn));
  const log = await client(t, broker.address);
  await log.admin.ensureTopic({ topic: 'grow', partitions: 1, retentionMs: 3_600_000 });
  await log.admin.ensureTopic({ topic: 'grow', partitions: 3 });
  await log.admin.ensureTopic({ topic: 'grow', partitions: 2 });
  assert.deepEqual(
    (await log.admin.offsets('grow')).map(({ partition }) => partition),
    [0, 1, 2],
  );
  const producer = await log.producer();
  await producer.send('grow', 2, [{ key: null, value: Buffer.from('x') }]);
  await producer.close();
  const consumer = await log.consumer({ groupId: 'meta-group', topics: ['grow'] });
  let seen = false;
  await consumer.run({
    onBatch: async (batch) => {
      await consumer.commit([
        { topic: 'grow', partition: batch.partition, offset: 1, metadata: '{"v":1,"rewind":0}' },
      ]);
      seen = true;
    },
  });
  const deadline = Date.now() + 20_000;
  while (!seen && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
  await consumer.stop();
  const offsets = await log.admin.groupOffsets('meta-group', 'grow');
  const partition2 = offsets.partitions.find(({ partition }) => partition === 2);
  assert.deepEqual(partition2, { partition: 2, offset: 1, metadata: '{"v":1,"rewind":0}' });
  assert.ok((await log.admin.listGroups()).includes('meta-group'));
});
