import assert from 'node:assert/strict';
import { test } from 'node:test';
import { StoreError, type PartitionLog } from '../../../log/broker/storage/index.js';
import { expiredSegmentCount } from '../../../log/broker/storage/retention.js';
import { filledBatch, parseBatches } from '../../support/magic2-batch.js';
import { openTestStore } from '../../support/open-test-store.js';
import { tempDir } from '../../support/temp-dir.js';

const HOUR_MS = 3_600_000;

test('the delete policy removes an expired or oversized prefix of settled segments', () => {
  const segments = [
    { sizeBytes: 100, maxTimestampMs: 1000 },
    { sizeBytes: 100, maxTimestampMs: 5000 },
    { sizeBytes: 100, maxTimestampMs: 2000 },
    { sizeBytes: 100, maxTimestampMs: 9000 },
  ];
  const config = { retentionMs: -1, retentionBytes: -1 };
  assert.equal(expiredSegmentCount(segments, 450, config, 10_000), 0);
  // Time: a prefix only — the third segment is old but sits behind a young one.
  assert.equal(expiredSegmentCount(segments, 450, { ...config, retentionMs: 4000 }, 10_000), 3);
  assert.equal(expiredSegmentCount(segments, 450, { ...config, retentionMs: 6000 }, 10_000), 1);
  // Size: drop while what remains is still at least retention.bytes.
  assert.equal(expiredSegmentCount(segments, 450, { ...config, retentionBytes: 250 }, 10_000), 2);
  assert.equal(expiredSegmentCount(segments, 450, { ...config, retentionBytes: 351 }, 10_000), 0);
  assert.equal(expiredSegmentCount(segments, 450, { ...config, retentionBytes: 0 }, 10_000), 4);
  assert.equal(
    expiredSegmentCount(
      [{ sizeBytes: 1, maxTimestampMs: -1 }],
      1,
      { ...config, retentionMs: 0 },
      10_000,
    ),
    0,
  );
});

/**
 * Reads the partition start to end over and over until `stop`, checking every batch is whole,
 * CRC-valid and the one produced at its offset. Returns how many batches it checked.
 */
async function readContinuously(
  log: PartitionLog,
  sent: Map<number, Buffer>,
  stop: () => boolean,
): Promise<number> {
  let checked = 0;
  while (!stop()) {
    let offset = log.logStartOffset();
    while (offset < log.highWatermark()) {
      let records: Buffer;
      try {
        ({ records } = await log.read(offset, 3000));
      } catch (error) {
        if (error instanceof StoreError && error.kafkaError === 'OFFSET_OUT_OF_RANGE') {
          offset = log.logStartOffset();
          continue;
        }
        throw error;
      }
      let at = 0;
      for (const batch of parseBatches(records)) {
        assert.ok(batch.crcValid);
        assert.deepEqual(
          records.subarray(at + 12, at + batch.sizeBytes),
          sent.get(batch.baseOffset)?.subarray(12),
        );
        at += batch.sizeBytes;
        offset = batch.lastOffset + 1;
        checked += 1;
      }
      assert.equal(at, records.length);
    }
    await new Promise((resolve) => setImmediate(resolve));
  }
  return checked;
}

test('time and size retention advance the log start durably while reads go on', async (t) => {
  const dataDir = await tempDir(t, 'retention');
  let store = await openTestStore(dataDir);
  await store.createTopic('t', 1, {
    segmentBytes: 2000,
    retentionMs: HOUR_MS,
    retentionBytes: 6000,
  });
  let log = store.partition('t', 0)!;
  const now = Date.now();
  const sent = new Map<number, Buffer>();
  for (let index = 0; index < 60; index += 1) {
    const age = index < 20 ? 3 * HOUR_MS : 0;
    const batch = filledBatch(index, 2, 150, { baseTimestampMs: now - age });
    sent.set((await log.append(Buffer.from(batch), { durable: true })).baseOffset, batch);
  }
  const end = log.highWatermark();
  let done = false;
  const reader = readContinuously(log, sent, () => done);
  await store.enforceRetention(now);
  done = true;
  assert.ok((await reader) > 0);
  const start = log.logStartOffset();
  assert.ok(start >= 40, `expired and oversized segments are gone (log start ${start})`);
  assert.equal(log.highWatermark(), end);
  await assert.rejects(
    log.read(0, 100),
    (error: unknown) => error instanceof StoreError && error.kafkaError === 'OFFSET_OUT_OF_RANGE',
  );
  assert.ok(store.diskUsageBytes() < 6000 + 2000 + 1000);
  await store.close();
  store = await openTestStore(dataDir);
  log = store.partition('t', 0)!;
  assert.equal(log.logStartOffset(), start);
  assert.equal(log.highWatermark(), end);
});

test('retention never deletes the active segment', async (t) => {
  const dataDir = await tempDir(t, 'retention');
  const store = await openTestStore(dataDir);
  await store.createTopic('t', 1, { segmentBytes: 1_000_000, retentionMs: 1 });
  const log = store.partition('t', 0)!;
  await log.append(filledBatch(1, 1, 10, { baseTimestampMs: 1 }), { durable: true });
  await store.enforceRetention(Date.now());
  assert.equal(log.logStartOffset(), 0);
  assert.equal(parseBatches((await log.read(0, 1000)).records).length, 1);
});
