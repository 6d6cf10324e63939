import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { RangeSet } from '../../../producers/range-set.js';
import type { ByteRange } from '../../../producers/record-pieces.js';

const DISK_BYTES = 256;

function model(ranges: readonly ByteRange[]): boolean[] {
  const bits = new Array<boolean>(DISK_BYTES).fill(false);
  for (const { offsetBytes, lengthBytes } of ranges)
    for (let i = offsetBytes; i < offsetBytes + lengthBytes; i += 1) bits[i] = true;
  return bits;
}

function toBits(ranges: Iterable<ByteRange>): boolean[] {
  return model([...ranges]);
}

const rangeArb = fc
  .tuple(fc.integer({ min: 0, max: DISK_BYTES - 1 }), fc.integer({ min: 0, max: 40 }))
  .map(([offsetBytes, length]) => ({
    offsetBytes,
    lengthBytes: Math.min(length, DISK_BYTES - offsetBytes),
  }));

test('a range set holds exactly the union of what was added, coalesced and sorted', () => {
  fc.assert(
    fc.property(fc.array(rangeArb, { maxLength: 30 }), (ranges) => {
      const set = new RangeSet();
      for (const range of ranges) set.add(range);
      const listed = [...set.ranges()];
      assert.deepEqual(toBits(listed), model(ranges));
      for (let i = 1; i < listed.length; i += 1) {
        assert.ok(
          listed[i - 1]!.offsetBytes + listed[i - 1]!.lengthBytes < listed[i]!.offsetBytes,
          'disjoint and not touching',
        );
      }
      assert.equal(set.totalBytes, model(ranges).filter(Boolean).length);
    }),
  );
});

test('difference yields the bytes of one set that are not in the other', () => {
  fc.assert(
    fc.property(
      fc.array(rangeArb, { maxLength: 20 }),
      fc.array(rangeArb, { maxLength: 20 }),
      (a, b) => {
        const left = new RangeSet();
        const right = new RangeSet();
        for (const range of a) left.add(range);
        for (const range of b) right.add(range);
        const expected = model(a).map((bit, index) => bit && !model(b)[index]);
        assert.deepEqual(toBits(left.difference(right)), expected);
      },
    ),
  );
});
