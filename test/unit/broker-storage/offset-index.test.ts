import assert from 'node:assert/strict';
import { test } from 'node:test';
import { OffsetIndex } from '../../../log/broker/storage/offset-index.js';

const summary = { sizeBytes: 0, nextOffset: 0, maxTimestampMs: -1, firstBatchTimestampMs: -1 };

/** Batches of `sizeBytes` with `records` records each, timestamps 1000, 1010, … */
function fill(
  index: OffsetIndex,
  base: number,
  count: number,
  sizeBytes: number,
  records: number,
): void {
  let maxTimestamp = -1;
  for (let batch = 0; batch < count; batch += 1) {
    index.addBatch(base + batch * records, batch * sizeBytes, sizeBytes, maxTimestamp);
    maxTimestamp = Math.max(maxTimestamp, 1000 + batch * 10);
  }
}

test('small batches get an entry about every interval; large ones every batch', () => {
  const sparse = new OffsetIndex(100, 4096);
  fill(sparse, 100, 100, 1000, 2);
  assert.equal(sparse.entryCount, 20); // one per 5 batches of 1000 bytes
  const dense = new OffsetIndex(0, 4096);
  fill(dense, 0, 10, 512 * 1024, 1);
  assert.equal(dense.entryCount, 10);
});

test('offset lookups land on the entry at or before the target', () => {
  const index = new OffsetIndex(100, 4096);
  fill(index, 100, 100, 1000, 2);
  // Entries at batches 0,5,10,… → offsets 100,110,120,… at positions 0,5000,10000,…
  assert.equal(index.positionForOffset(100), 0);
  assert.equal(index.positionForOffset(109), 0);
  assert.equal(index.positionForOffset(110), 5000);
  assert.equal(index.positionForOffset(125), 10000);
  assert.equal(index.positionForOffset(99), 0);
  assert.equal(index.positionForOffset(10_000), 95_000);
});

test('timestamp lookups use the running maximum before each entry', () => {
  const index = new OffsetIndex(0, 4096);
  fill(index, 0, 100, 1000, 1);
  // Batch b has max timestamp 1000 + 10b; the entry at batch 5k holds max before = 990 + 50k,
  // so a lookup lands on the last entry whose batches before it are all older than the target.
  assert.equal(index.positionForTimestamp(0), 0);
  assert.equal(index.positionForTimestamp(1040), 0);
  assert.equal(index.positionForTimestamp(1041), 5000);
  assert.equal(index.positionForTimestamp(1090), 5000);
  assert.equal(index.positionForTimestamp(1091), 10000);
  assert.equal(index.positionForTimestamp(1_000_000), 95_000);
});

test('an index survives serialisation and rejects damage or a different format', () => {
  const index = new OffsetIndex(500, 4096);
  fill(index, 500, 40, 3000, 3);
  const file = index.serialize({
    ...summary,
    sizeBytes: 120_000,
    nextOffset: 620,
    maxTimestampMs: 1390,
  });
  const parsed = OffsetIndex.parse(file, 500, 4096);
  assert.ok(parsed);
  assert.deepEqual(parsed.summary, {
    sizeBytes: 120_000,
    nextOffset: 620,
    maxTimestampMs: 1390,
    firstBatchTimestampMs: -1,
  });
  assert.equal(parsed.index.entryCount, index.entryCount);
  for (const offset of [500, 507, 530, 619])
    assert.equal(parsed.index.positionForOffset(offset), index.positionForOffset(offset));
  const flipped = Buffer.from(file);
  flipped.writeUInt8(flipped.readUInt8(flipped.length - 3) ^ 0x40, flipped.length - 3);
  assert.equal(OffsetIndex.parse(flipped, 500, 4096), null);
  assert.equal(OffsetIndex.parse(file.subarray(0, file.length - 16), 500, 4096), null);
  assert.equal(OffsetIndex.parse(Buffer.alloc(100), 500, 4096), null);
});
