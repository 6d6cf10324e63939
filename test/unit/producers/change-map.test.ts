import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { CHANGE_MAP_BUCKETS, ChangeMap } from '../../../producers/change-map.js';

const MiB = 1024 * 1024;

test('a change map counts bytes in the buckets a range covers', () => {
  const map = new ChangeMap(256 * MiB);
  assert.equal(map.bucketBytes, MiB);
  map.add(0, 4096);
  map.add(MiB - 100, 300); // straddles buckets 0 and 1
  map.add(255 * MiB, MiB); // the last bucket, whole
  const { bucketBytes, changedBytes } = map.snapshot();
  assert.equal(bucketBytes, MiB);
  assert.equal(changedBytes.length, CHANGE_MAP_BUCKETS);
  assert.equal(changedBytes[0], 4096 + 100);
  assert.equal(changedBytes[1], 200);
  assert.equal(changedBytes[255], MiB);
  assert.equal(
    changedBytes.slice(2, 255).every((bytes) => bytes === 0),
    true,
  );
});

test('a disk smaller than the bucket count gets one bucket per byte', () => {
  const map = new ChangeMap(10);
  map.add(3, 4);
  assert.deepEqual(map.snapshot(), {
    bucketBytes: 1,
    changedBytes: [0, 0, 0, 1, 1, 1, 1, 0, 0, 0],
  });
});

test('every byte added lands in exactly one bucket, the one that covers it', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 1 << 30 }),
      fc.array(fc.tuple(fc.nat(), fc.nat({ max: 1 << 24 })), { maxLength: 20 }),
      (sizeBytes, ranges) => {
        const map = new ChangeMap(sizeBytes);
        let total = 0;
        for (const [start, length] of ranges) {
          const offsetBytes = start % sizeBytes;
          const lengthBytes = Math.min(length, sizeBytes - offsetBytes);
          map.add(offsetBytes, lengthBytes);
          total += lengthBytes;
        }
        const { bucketBytes, changedBytes } = map.snapshot();
        assert.ok(changedBytes.length <= CHANGE_MAP_BUCKETS);
        assert.ok(bucketBytes * changedBytes.length >= sizeBytes);
        assert.equal(
          changedBytes.reduce((sum, bytes) => sum + bytes, 0),
          total,
        );
        changedBytes.forEach((bytes, bucket) =>
          assert.ok(
            bytes <= Math.min(bucketBytes, sizeBytes - bucket * bucketBytes) * ranges.length,
          ),
        );
      },
    ),
  );
});
