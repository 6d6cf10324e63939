import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { planExtents, type DiffRange } from '../../../producers/rbd/diff-extents.js';

const BLOCK = 512;

/** Sorted, disjoint diff ranges within a disk, as rbd_diff_iterate2 reports them. */
const scenario = fc
  .integer({ min: 1, max: 12 * BLOCK + 77 })
  .chain((diskSizeBytes) =>
    fc.record({
      diskSizeBytes: fc.constant(diskSizeBytes),
      points: fc.uniqueArray(fc.integer({ min: 0, max: diskSizeBytes }), { maxLength: 30 }),
      flags: fc.array(fc.boolean(), { minLength: 15, maxLength: 15 }),
      seed: fc.integer({ min: 0, max: 1000 }),
    }),
  )
  .map(({ diskSizeBytes, points, flags, seed }) => {
    const sorted = [...points].sort((a, b) => a - b);
    const ranges: DiffRange[] = [];
    for (let index = 0; index + 1 < sorted.length; index += 2)
      ranges.push({
        offsetBytes: sorted[index]!,
        lengthBytes: sorted[index + 1]! - sorted[index]!,
        exists: flags[index / 2]!,
      });
    return { diskSizeBytes, ranges, seed };
  });

function bytes(length: number, seed: number): Buffer {
  const buffer = Buffer.alloc(length);
  for (let index = 0; index < length; index++) buffer[index] = ((index * 31 + seed) % 251) + 1;
  return buffer;
}

function replay(base: Buffer, after: Buffer, plan: ReturnType<typeof planExtents>): Buffer {
  const result = Buffer.from(base);
  for (const extent of plan) {
    const end = extent.offsetBytes + extent.lengthBytes;
    if (extent.op === 'WRITE') after.copy(result, extent.offsetBytes, extent.offsetBytes, end);
    else result.fill(0, extent.offsetBytes, end);
  }
  return result;
}

function checkShape(plan: ReturnType<typeof planExtents>, diskSizeBytes: number) {
  let previousEnd = -1;
  for (const extent of plan) {
    assert.ok(extent.lengthBytes > 0);
    assert.ok(extent.offsetBytes >= previousEnd, 'sorted and disjoint');
    assert.equal(extent.offsetBytes % BLOCK, 0, 'starts on a block');
    const end = extent.offsetBytes + extent.lengthBytes;
    assert.ok(end % BLOCK === 0 || end === diskSizeBytes, 'ends on a block or the disk end');
    assert.ok(end <= diskSizeBytes);
    previousEnd = end;
  }
}

test('an incremental plan turns the old image into the new one', () => {
  fc.assert(
    fc.property(scenario, ({ diskSizeBytes, ranges, seed }) => {
      const before = bytes(diskSizeBytes, seed);
      const after = Buffer.from(before);
      for (const range of ranges) {
        const end = range.offsetBytes + range.lengthBytes;
        if (range.exists) bytes(range.lengthBytes, seed + 1).copy(after, range.offsetBytes);
        else after.fill(0, range.offsetBytes, end);
      }
      const plan = planExtents(ranges, diskSizeBytes, BLOCK, false);
      checkShape(plan, diskSizeBytes);
      assert.deepEqual(replay(before, after, plan), after);
    }),
  );
});

test('a full plan covers the whole disk and turns any image into the new one', () => {
  fc.assert(
    fc.property(scenario, ({ diskSizeBytes, ranges, seed }) => {
      const after = Buffer.alloc(diskSizeBytes);
      for (const range of ranges)
        if (range.exists) bytes(range.lengthBytes, seed).copy(after, range.offsetBytes);
      const plan = planExtents(ranges, diskSizeBytes, BLOCK, true);
      checkShape(plan, diskSizeBytes);
      assert.equal(
        plan.reduce((sum, extent) => sum + extent.lengthBytes, 0),
        diskSizeBytes,
      );
      assert.deepEqual(replay(bytes(diskSizeBytes, seed + 5), after, plan), after);
    }),
  );
});

test('adjacent ranges of one kind coalesce; zeros keep whole blocks only', () => {
  assert.deepEqual(
    planExtents(
      [
        { offsetBytes: 100, lengthBytes: 100, exists: true },
        { offsetBytes: 600, lengthBytes: 2000, exists: false },
      ],
      4 * BLOCK,
      BLOCK,
      false,
    ),
    [
      { kind: 'extent', offsetBytes: 0, lengthBytes: 1024, op: 'WRITE' },
      { kind: 'extent', offsetBytes: 1024, lengthBytes: 1024, op: 'ZERO' },
    ],
  );
});
