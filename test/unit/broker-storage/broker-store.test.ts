import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import {
  StoreError,
  type BrokerStore,
  type PartitionLog,
} from '../../../log/broker/storage/index.js';
import { filledBatch, parseBatches } from '../../support/magic2-batch.js';
import { openTestStore } from '../../support/open-test-store.js';
import { tempDir } from '../../support/temp-dir.js';

function partitionOf(store: BrokerStore, topic: string, partition = 0): PartitionLog {
  const log = store.partition(topic, partition);
  assert.ok(log, `partition ${topic}-${partition} exists`);
  return log;
}

async function readAll(log: PartitionLog, from = log.logStartOffset()): Promise<Buffer[]> {
  const batches: Buffer[] = [];
  let offset = from;
  while (offset < log.highWatermark()) {
    const { records } = await log.read(offset, 1024 * 1024);
    const parsed = parseBatches(records);
    assert.ok(parsed.length > 0, `a read at ${offset} below the high watermark returns a batch`);
    let at = 0;
    for (const batch of parsed) {
      batches.push(records.subarray(at, at + batch.sizeBytes));
      at += batch.sizeBytes;
      offset = batch.lastOffset + 1;
    }
  }
  return batches;
}

test('appends assign offsets, publish durable appends and survive a reopen byte for byte', async (t) => {
  const dataDir = await tempDir(t, 'store');
  let store = await openTestStore(dataDir);
  await store.createTopic('extents', 2, { segmentBytes: 4096 });
  const log = partitionOf(store, 'extents', 1);
  const sent: Buffer[] = [];
  for (let index = 0; index < 20; index += 1) {
    const batch = filledBatch(index, 3, 400);
    const result = await log.append(batch, { durable: true });
    assert.equal(result.baseOffset, index * 3);
    assert.equal(result.duplicate, false);
    assert.equal(log.highWatermark(), (index + 1) * 3);
    sent.push(Buffer.from(batch));
  }
  assert.deepEqual(await readAll(log), sent);
  await store.close();

  store = await openTestStore(dataDir);
  const reopened = partitionOf(store, 'extents', 1);
  assert.equal(reopened.highWatermark(), 60);
  assert.deepEqual(await readAll(reopened), sent);
  assert.deepEqual(await readAll(reopened, 31), sent.slice(10));
  assert.equal(store.topic('extents')?.config.segmentBytes, 4096);
});

test('a read never reaches past the high watermark and out-of-range offsets are refused', async (t) => {
  const dataDir = await tempDir(t, 'store');
  const store = await openTestStore(dataDir, { flushIntervalMs: 60_000 });
  await store.createTopic('t', 1, {});
  const log = partitionOf(store, 't');
  await log.append(filledBatch(1, 2, 10), { durable: true });
  await log.append(filledBatch(2, 2, 10), { durable: false });
  assert.equal(log.highWatermark(), 2);
  const { records, highWatermark } = await log.read(0, 1 << 20);
  assert.equal(highWatermark, 2);
  assert.deepEqual(
    parseBatches(records).map((batch) => batch.baseOffset),
    [0],
  );
  assert.equal((await log.read(2, 1 << 20)).records.length, 0);
  await assert.rejects(
    log.read(3, 100),
    (error: unknown) => error instanceof StoreError && error.kafkaError === 'OFFSET_OUT_OF_RANGE',
  );
  await log.append(filledBatch(3, 1, 10), { durable: true });
  assert.equal(log.highWatermark(), 5);
});

test('every offset reads back from the batch that holds it, across segments', async (t) => {
  const dataDir = await tempDir(t, 'store');
  const store = await openTestStore(dataDir, { indexIntervalBytes: 1024 });
  await store.createTopic('t', 1, { segmentBytes: 16 * 1024 });
  const log = partitionOf(store, 't');
  const firstOffsets: number[] = [];
  for (let index = 0; index < 120; index += 1) {
    const records = 1 + (index % 4);
    firstOffsets.push(
      (
        await log.append(filledBatch(index, records, 37 * (index % 9)), {
          durable: index % 10 === 9,
        })
      ).baseOffset,
    );
  }
  await log.append(filledBatch(999, 1, 1), { durable: true });
  const end = log.highWatermark();
  for (let offset = 0; offset < end; offset += 1) {
    const [first] = parseBatches((await log.read(offset, 1)).records);
    assert.ok(
      first && first.baseOffset <= offset && offset <= first.lastOffset,
      `offset ${offset}`,
    );
    assert.ok(first.crcValid);
  }
  const budget = await log.read(0, 5000);
  assert.ok(budget.records.length <= 5000 && parseBatches(budget.records).length > 1);
  assert.equal(new Set(firstOffsets).size, 120);
});

test('a large batch is returned whole even when it exceeds maxBytes', async (t) => {
  const dataDir = await tempDir(t, 'store');
  const store = await openTestStore(dataDir);
  await store.createTopic('big', 1, { maxMessageBytes: 2 * 1024 * 1024 });
  const log = partitionOf(store, 'big');
  const small = filledBatch(1, 1, 100);
  const big = filledBatch(2, 1, 512 * 1024);
  await log.append(Buffer.from(small), { durable: false });
  await log.append(Buffer.from(big), { durable: true });
  const { records } = await log.read(1, 1000);
  assert.equal(records.length, big.length);
  assert.deepEqual(records.subarray(12), big.subarray(12));
  const both = await log.read(0, 10 * 1024 * 1024);
  assert.equal(both.records.length, small.length + big.length);
  assert.equal((await log.read(0, 1000)).records.length, small.length);
});

test('idempotent retries are answered with the original offset, also after a reopen', async (t) => {
  const dataDir = await tempDir(t, 'store');
  let store = await openTestStore(dataDir);
  await store.createTopic('t', 1, { segmentBytes: 2048 });
  const { producerId } = await store.allocateProducerId();
  const batch = (sequence: number) =>
    filledBatch(sequence, 2, 300, { producerId, producerEpoch: 0, baseSequence: sequence });
  let log = partitionOf(store, 't');
  for (let sequence = 0; sequence < 20; sequence += 2)
    await log.append(batch(sequence), { durable: true });
  const retry = await log.append(batch(16), { durable: true });
  assert.deepEqual([retry.baseOffset, retry.duplicate], [16, true]);
  assert.equal(log.highWatermark(), 20);
  await assert.rejects(
    log.append(batch(24), { durable: true }),
    (error: unknown) =>
      error instanceof StoreError && error.kafkaError === 'OUT_OF_ORDER_SEQUENCE_NUMBER',
  );
  await store.close();

  store = await openTestStore(dataDir);
  log = partitionOf(store, 't');
  const again = await log.append(batch(18), { durable: true });
  assert.deepEqual([again.baseOffset, again.duplicate], [18, true]);
  assert.equal((await log.append(batch(20), { durable: true })).baseOffset, 20);
  const next = await store.allocateProducerId();
  assert.notEqual(next.producerId, producerId);
});

test('producer ids are never handed out twice, even without a clean close', async (t) => {
  const dataDir = await tempDir(t, 'store');
  const seen = new Set<number>();
  for (let round = 0; round < 3; round += 1) {
    const store = await openTestStore(dataDir);
    for (let index = 0; index < 5; index += 1) {
      const { producerId, producerEpoch } = await store.allocateProducerId();
      assert.equal(producerEpoch, 0);
      assert.ok(!seen.has(producerId), `id ${producerId} reused`);
      seen.add(producerId);
    }
    if (round < 2) await store.close();
  }
});

test('waitForData resolves on new durable data, on timeout and on abort', async (t) => {
  const dataDir = await tempDir(t, 'store');
  const store = await openTestStore(dataDir, { flushIntervalMs: 5 });
  await store.createTopic('t', 1, {});
  const log = partitionOf(store, 't');
  const waiting = log.waitForData(0, 60_000);
  await log.append(filledBatch(1, 1, 10), { durable: false });
  await waiting;
  assert.equal(log.highWatermark(), 1);
  await log.waitForData(1, 1);
  const controller = new AbortController();
  const aborted = log.waitForData(1, 60_000, controller.signal);
  controller.abort();
  await aborted;
  assert.equal(log.highWatermark(), 1);
});

test('offsetForTimestamp finds the first batch whose max timestamp reaches the target', async (t) => {
  const dataDir = await tempDir(t, 'store');
  const store = await openTestStore(dataDir, { indexIntervalBytes: 256 });
  await store.createTopic('t', 1, { segmentBytes: 4096 });
  const log = partitionOf(store, 't');
  const timestamps = [1000, 1100, 1050, 1300, 1200, 1400, 1500, 1450];
  for (let round = 0; round < 10; round += 1)
    for (const [index, timestampMs] of timestamps.entries())
      await log.append(
        filledBatch(index, 2, 100, { baseTimestampMs: timestampMs + round * 1000 }),
        { durable: true },
      );
  const expected = (target: number) => {
    let offset = 0;
    for (let round = 0; round < 10; round += 1)
      for (const timestampMs of timestamps) {
        if (timestampMs + round * 1000 >= target) return offset;
        offset += 2;
      }
    return null;
  };
  for (const target of [0, 1000, 1001, 1101, 1250, 1301, 2450, 5555, 10_500, 10_501])
    assert.equal(await log.offsetForTimestamp(target), expected(target), `target ${target}`);
});

test('disk usage counts segment bytes', async (t) => {
  const dataDir = await tempDir(t, 'store');
  const store = await openTestStore(dataDir);
  await store.createTopic('t', 1, {});
  const before = store.diskUsageBytes();
  const batch = filledBatch(1, 1, 10_000);
  await partitionOf(store, 't').append(Buffer.from(batch), { durable: true });
  assert.equal(store.diskUsageBytes() - before, batch.length);
});

test('segment.ms closes a segment once batch timestamps span it', async (t) => {
  const dataDir = await tempDir(t, 'store');
  const store = await openTestStore(dataDir);
  await store.createTopic('t', 1, { segmentMs: 60_000 });
  const log = partitionOf(store, 't');
  const segments = async () =>
    (await readdir(path.join(dataDir.path, 'topics', 't', '0'))).filter((name) =>
      name.endsWith('.log'),
    ).length;
  await log.append(filledBatch(1, 1, 10, { baseTimestampMs: 1_000_000 }), { durable: true });
  await log.append(filledBatch(2, 1, 10, { baseTimestampMs: 1_059_999 }), { durable: true });
  assert.equal(await segments(), 1);
  await log.append(filledBatch(3, 1, 10, { baseTimestampMs: 1_060_000 }), { durable: true });
  assert.equal(await segments(), 2);
});
