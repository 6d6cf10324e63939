import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cutAtMultiples, isAllZero, splitZeroRuns } from '../../../producers/record-pieces.js';

test('ranges are cut at absolute multiples of the piece size', () => {
  assert.deepEqual(
    [...cutAtMultiples({ offsetBytes: 1000, lengthBytes: 5000 }, 2048)],
    [
      { offsetBytes: 1000, lengthBytes: 1048 },
      { offsetBytes: 2048, lengthBytes: 2048 },
      { offsetBytes: 4096, lengthBytes: 1904 },
    ],
  );
  assert.deepEqual([...cutAtMultiples({ offsetBytes: 0, lengthBytes: 0 }, 4096)], []);
});

test('all-zero detection looks at every byte', () => {
  const data = Buffer.alloc(200 * 1024);
  assert.equal(isAllZero(data), true);
  data[data.length - 1] = 1;
  assert.equal(isAllZero(data), false);
  assert.equal(isAllZero(Buffer.alloc(0)), true);
});

test('zero runs of at least the minimum become ZERO pieces without data', () => {
  const block = 4096;
  const data = Buffer.alloc(8 * block);
  data.fill(7, 0, block); // block 0 data
  data.fill(9, 5 * block, 6 * block); // block 5 data; blocks 1-4 zero (16 KiB), 6-7 zero (8 KiB)
  const pieces = splitZeroRuns(1 << 20, data, block, 16 * 1024);
  assert.deepEqual(
    pieces.map(({ offsetBytes, lengthBytes, op }) => ({ offsetBytes, lengthBytes, op })),
    [
      { offsetBytes: (1 << 20) + 0, lengthBytes: block, op: 'WRITE' },
      { offsetBytes: (1 << 20) + block, lengthBytes: 4 * block, op: 'ZERO' },
      { offsetBytes: (1 << 20) + 5 * block, lengthBytes: 3 * block, op: 'WRITE' },
    ],
  );
  assert.equal(pieces[1]!.data, null);
  assert.ok(pieces[2]!.data!.equals(data.subarray(5 * block)));
  const whole = splitZeroRuns(0, Buffer.alloc(3 * block), block, 16 * 1024);
  assert.deepEqual(whole, [{ offsetBytes: 0, lengthBytes: 3 * block, op: 'ZERO', data: null }]);
});
