import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { BlockAligner } from '../../../producers/block-aligner.js';
import type { ExtentOp } from '../../../producers/source.js';

const plain = (aligner: BlockAligner) =>
  aligner.finish().map((extent) => [extent.offsetBytes, extent.lengthBytes, extent.op]);

test('ranges are widened to whole blocks; WRITE wins a block shared with ZERO', () => {
  const aligner = new BlockAligner(4096, 20_000);
  aligner.add('WRITE', 0, 1000);
  aligner.add('ZERO', 4096, 9000);
  aligner.add('WRITE', 9000, 9100);
  aligner.add('ZERO', 16_384, 20_000);
  assert.deepEqual(plain(aligner), [
    [0, 4096, 'WRITE'],
    [4096, 4096, 'ZERO'],
    [8192, 4096, 'WRITE'],
    [16_384, 3616, 'ZERO'],
  ]);
});

test('a block a ZERO range covers only in part is read, not zeroed', () => {
  const aligner = new BlockAligner(4096, 1 << 20);
  aligner.add('ZERO', 1000, 3000); // inside one block
  aligner.add('ZERO', 5000, 20_000); // partial head and tail
  assert.deepEqual(plain(aligner), [
    [0, 8192, 'WRITE'],
    [8192, 8192, 'ZERO'],
    [16_384, 4096, 'WRITE'],
  ]);
});

test('adjacent ranges of one op coalesce; a gap ends a run', () => {
  const aligner = new BlockAligner(512, 8192);
  aligner.add('WRITE', 0, 512);
  aligner.add('WRITE', 512, 1024);
  aligner.add('WRITE', 2048, 2560);
  assert.deepEqual(plain(aligner), [
    [0, 1024, 'WRITE'],
    [2048, 512, 'WRITE'],
  ]);
});

test('take() hands out only runs no later range can change', () => {
  const aligner = new BlockAligner(4096, 1 << 20);
  aligner.add('WRITE', 0, 1000);
  assert.deepEqual(aligner.take(), []);
  aligner.add('ZERO', 4096, 12_288);
  assert.deepEqual(
    aligner.take().map((extent) => [extent.offsetBytes, extent.lengthBytes, extent.op]),
    [[0, 4096, 'WRITE']],
  );
});

test('property: every byte of a range is covered, blocks are aligned, WRITE is never lost, nothing is zeroed that no ZERO range covers', () => {
  const block = 4096;
  const disk = 64 * block + 100;
  const ranges = fc
    .array(
      fc.record({
        length: fc.integer({ min: 1, max: 3 * block }),
        gap: fc.integer({ min: 0, max: 2 * block }),
        write: fc.boolean(),
      }),
      { maxLength: 30 },
    )
    .map((specs) => {
      const out: { start: number; end: number; op: ExtentOp }[] = [];
      let cursor = 0;
      for (const spec of specs) {
        const start = cursor + spec.gap;
        const end = Math.min(disk, start + spec.length);
        if (start >= end) break;
        out.push({ start, end, op: spec.write ? 'WRITE' : 'ZERO' });
        cursor = end;
      }
      return out;
    });
  fc.assert(
    fc.property(ranges, (input) => {
      const aligner = new BlockAligner(block, disk);
      for (const range of input) aligner.add(range.op, range.start, range.end);
      const extents = aligner.finish();
      let previousEnd = 0;
      for (const extent of extents) {
        assert.ok(extent.offsetBytes >= previousEnd, 'ordered, not overlapping');
        assert.equal(extent.offsetBytes % block, 0);
        const end = extent.offsetBytes + extent.lengthBytes;
        assert.ok(end % block === 0 || end === disk);
        previousEnd = end;
      }
      const opAt = (byte: number) =>
        extents.find(
          (extent) => byte >= extent.offsetBytes && byte < extent.offsetBytes + extent.lengthBytes,
        )?.op;
      for (const range of input)
        for (let byte = range.start; byte < range.end; byte += 97) {
          const op = opAt(byte);
          assert.ok(op !== undefined, `byte ${byte} covered`);
          if (range.op === 'WRITE') assert.equal(op, 'WRITE', `byte ${byte} stays WRITE`);
        }
      const zeroed = (byte: number) =>
        input.some((range) => range.op === 'ZERO' && byte >= range.start && byte < range.end);
      for (const extent of extents)
        if (extent.op === 'ZERO')
          for (
            let byte = extent.offsetBytes;
            byte < extent.offsetBytes + extent.lengthBytes;
            byte += 61
          )
            assert.ok(zeroed(byte), `byte ${byte} of a ZERO extent lies in a ZERO range`);
    }),
  );
});
