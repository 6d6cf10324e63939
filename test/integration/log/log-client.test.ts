/**
 * The log port against the embedded broker, once per driver (kafkajs, librdkafka): ordered
 * idempotent sends with a bounded in-flight window, range reads (also abandoned half-way),
 * topic growth, group commits with metadata, and a group member's batches: one at a time
 * per partition, steered by seek and pause/resume; and librdkafka's lanes under a handler
 * that is slow or stuck.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createLogClient, type LogDriver } from '../../../log/client-factory.js';
import type { LogClient, TopicPartition } from '../../../log/log-client.js';
import { LANE_MAX_BYTES, LANE_STALL_MS } from '../../../log/librdkafka/librdkafka-consumer.js';
import { silentLogger } from '../../support/silent-logger.js';
import { eventually, startTestBroker } from '../../support/test-broker.js';

const RECORD_BYTES = 512 * 1024;

for (const driver of ['kafkajs', 'librdkafka'] as const satisfies readonly LogDriver[]) {
  describe(`the log port over ${driver}`, () => {
    async function client(
      t: { after(fn: () => Promise<void>): void },
      address: string,
    ): Promise<LogClient> {
      const log = await createLogClient({
        connection: { brokers: [address], clientId: 'log-test' },
        logger: silentLogger,
        driver,
      });
      assert.equal(log.driver, driver);
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
        for await (const message of log.readRange({
          topic: 'ranges',
          partition: 0,
          fromOffset: 5,
        })) {
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
        for await (const _ of log.readRange({ topic: 'ranges', partition: 3, fromOffset: 0 }))
          break;
      }, /has no partition 3/);
      // Range reads leave no consumer group behind.
      assert.deepEqual(await log.admin.listGroups(), []);
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
            {
              topic: 'grow',
              partition: batch.partition,
              offset: 1,
              metadata: '{"v":1,"rewind":0}',
            },
          ]);
          seen = true;
        },
      });
      const deadline = Date.now() + 20_000;
      while (!seen && Date.now() < deadline)
        await new Promise((resolve) => setTimeout(resolve, 20));
      await consumer.stop();
      const offsets = await log.admin.groupOffsets('meta-group', 'grow');
      const partition2 = offsets.partitions.find(({ partition }) => partition === 2);
      assert.deepEqual(partition2, { partition: 2, offset: 1, metadata: '{"v":1,"rewind":0}' });
      assert.ok((await log.admin.listGroups()).includes('meta-group'));
    });

    test('a partition gets one batch at a time, and seek and pause steer it', async (t) => {
      const broker = await startTestBroker((fn) => t.after(fn));
      const log = await client(t, broker.address);
      await log.admin.ensureTopic({ topic: 'lanes', partitions: 2 });
      const producer = await log.producer();
      // One send per record: small fetches then return a few records at a time.
      const produce = async (partition: number, from: number, to: number) => {
        for (let index = from; index < to; index += 1)
          await producer.send('lanes', partition, [{ key: null, value: Buffer.alloc(300, index) }]);
      };
      await produce(0, 0, 30);
      await produce(1, 0, 30);
      const consumer = await log.consumer({
        groupId: 'lanes-group',
        topics: ['lanes'],
        maxBytesPerPartition: 1024,
      });
      t.after(() => consumer.stop());
      const seen: [number[], number[]] = [[], []];
      const batches = [0, 0];
      const handling = new Set<number>();
      const assigned: TopicPartition[] = [];
      let rewound = false;
      await consumer.run({
        onAssigned: (partitions) => void assigned.push(...partitions),
        onBatch: async (batch) => {
          assert.ok(!handling.has(batch.partition), `two batches of [${batch.partition}] at once`);
          handling.add(batch.partition);
          // Let the consumer run meanwhile, as a target writing the batch would.
          for (let turn = 0; turn < 20; turn += 1) await new Promise(setImmediate);
          batches[batch.partition]! += 1;
          seen[batch.partition as 0 | 1].push(...batch.messages.map(({ offset }) => offset));
          assert.ok(batch.highWatermark > batch.messages.at(-1)!.offset);
          if (batch.partition === 0 && !rewound && seen[0].includes(10)) {
            rewound = true;
            consumer.seek({ topic: 'lanes', partition: 0, offset: 5 });
          }
          if (batch.partition === 1 && batches[1] === 1)
            consumer.pause([{ topic: 'lanes', partition: 1 }]);
          handling.delete(batch.partition);
        },
      });
      await eventually('[0] read to its end after the rewind', () =>
        seen[0].length > 30 && seen[0].at(-1) === 29 ? true : undefined,
      );
      await eventually('a batch of [1]', () => (batches[1]! > 0 ? true : undefined));
      // [1] is paused: records it gets now stay unread while [0]'s later ones are read.
      await produce(1, 30, 40);
      await produce(0, 30, 40);
      await eventually('[0] read to 39', () => (seen[0].at(-1) === 39 ? true : undefined));
      assert.equal(batches[1], 1, 'no batch of [1] while it is paused');
      assert.ok(Math.max(...seen[1]) < 30);
      consumer.resume([{ topic: 'lanes', partition: 1 }]);
      await eventually('[1] read to 39 after resume', () =>
        seen[1].at(-1) === 39 ? true : undefined,
      );
      await producer.close();

      const range = (from: number, to: number) =>
        Array.from({ length: to - from }, (_, index) => from + index);
      assert.deepEqual(seen[1], range(0, 40));
      const rewindAt = seen[0].findIndex(
        (offset, index) => index > 0 && offset !== seen[0][index - 1]! + 1,
      );
      assert.ok(rewindAt > 10, `[0] read ${seen[0].join(',')}`);
      assert.deepEqual(seen[0].slice(0, rewindAt), range(0, rewindAt));
      assert.deepEqual(seen[0].slice(rewindAt), range(5, 40));
      assert.deepEqual(assigned.map(({ partition }) => partition).sort(), [0, 1]);
    });

    test('a second member takes partitions over: the first one hears which', async (t) => {
      const broker = await startTestBroker((fn) => t.after(fn));
      const log = await client(t, broker.address);
      await log.admin.ensureTopic({ topic: 'shared', partitions: 2 });
      const producer = await log.producer();
      for (const partition of [0, 1])
        await producer.send('shared', partition, [{ key: null, value: Buffer.from('x') }]);
      await producer.close();

      const member = async (name: string) => {
        const owned = new Set<number>();
        const revoked: number[] = [];
        const read = new Set<number>();
        const consumer = await log.consumer({ groupId: 'shared-group', topics: ['shared'] });
        t.after(() => consumer.stop());
        await consumer.run({
          onAssigned: (partitions) => partitions.forEach(({ partition }) => owned.add(partition)),
          onRevoked: (partitions) =>
            partitions.forEach(({ partition }) => {
              owned.delete(partition);
              revoked.push(partition);
            }),
          onBatch: async (batch) => {
            assert.ok(owned.has(batch.partition), `${name} got a batch of [${batch.partition}]`);
            read.add(batch.partition);
          },
        });
        return { owned, revoked, read, stop: () => consumer.stop() };
      };
      const first = await member('first');
      await eventually('the first member reads both partitions', () =>
        first.read.size === 2 ? true : undefined,
      );
      const second = await member('second');
      await eventually('the partitions split between the members', () =>
        first.owned.size === 1 && second.owned.size === 1 ? true : undefined,
      );
      const [moved] = [...second.owned];
      assert.notEqual(moved, [...first.owned][0]);
      assert.ok(first.revoked.includes(moved!), `the first member heard [${moved}] was revoked`);
      // Stopped while the broker runs: a kafkajs member stopped after the broker closed
      // keeps retrying its group, and the process alive.
      await second.stop();
      await first.stop();
    });
  });
}

describe('the librdkafka consumer under a slow handler', () => {
  test('a stuck handler holds back only its own partition, which is then read once, in order', async (t) => {
    const broker = await startTestBroker((fn) => t.after(fn));
    const log = await createLogClient({
      connection: { brokers: [broker.address], clientId: 'lanes-test' },
      logger: silentLogger,
      driver: 'librdkafka',
    });
    t.after(() => log.close());
    await log.admin.ensureTopic({ topic: 'slow', partitions: 2 });
    const producer = await log.producer();
    // [0] gets more than a lane holds (LANE_MAX_BYTES), so its lane fills while its handler is held.
    const records = Math.ceil((2 * LANE_MAX_BYTES) / RECORD_BYTES);
    for (let index = 0; index < records; index += 1)
      await producer.send('slow', 0, [{ key: null, value: Buffer.alloc(RECORD_BYTES, index) }]);
    await producer.send('slow', 1, [{ key: null, value: Buffer.from('first') }]);
    const consumer = await log.consumer({ groupId: 'slow-group', topics: ['slow'] });
    t.after(() => consumer.stop());
    const seen: [number[], number[]] = [[], []];
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => (release = resolve));
    let holding = true;
    await consumer.run({
      onBatch: async (batch) => {
        for (const message of batch.messages) {
          if (batch.partition === 0)
            assert.equal(message.value?.[0], message.offset % 256, `[0] offset ${message.offset}`);
          seen[batch.partition as 0 | 1].push(message.offset);
        }
        if (batch.partition === 0 && holding) await held;
      },
    });
    try {
      await eventually('a first batch of [0], now held', () =>
        seen[0].length > 0 ? true : undefined,
      );
      // [0]'s lane fills up behind the held handler (the whole partition is fetched within a
      // few hundred ms here) and holds the consume loop; after LANE_STALL_MS its partition is
      // paused and the loop goes on: [1] is read, also what is produced to it from now on.
      await new Promise((resolve) => setTimeout(resolve, LANE_STALL_MS / 2));
      await producer.send('slow', 1, [{ key: null, value: Buffer.from('second') }]);
      await eventually('[1] read while [0] is held', () =>
        seen[1].length === 2 ? true : undefined,
      );
      assert.ok(seen[0].at(-1)! < records - 1, '[0] is still held back');
    } finally {
      // Also when a check failed: a held handler would keep the consumer from stopping.
      holding = false;
      release();
    }
    await eventually('[0] read to its end', () =>
      seen[0].at(-1) === records - 1 ? true : undefined,
    );
    await producer.close();
    assert.deepEqual(
      seen[0],
      Array.from({ length: records }, (_, index) => index),
      '[0] read once each, in order',
    );
    assert.deepEqual(seen[1], [0, 1]);
  });
});
