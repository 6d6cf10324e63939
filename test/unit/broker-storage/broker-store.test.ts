import assert from 'node:assert/strict';
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
