import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { diskChunks, type ReadableDisk } from '../../../bin/disk-chunks.js';
import { sha256OfDisk } from '../../../bin/image-sha256.js';
import type { DiskRange } from '../../../consumers/target.js';
import { patternBytes } from '../../support/image-files.js';

/** A disk in memory that reports `ranges` as its data (or nothing, when omitted). */
function memoryDisk(bytes: Buffer, ranges?: DiskRange[]) {
  const reads: [number, number][] = [];
  const disk: ReadableDisk = {
    sizeBytes: bytes.length,
    async read(offsetBytes, lengthBytes) {
      reads.push([offsetBytes, lengthBytes]);
      assert.ok(offsetBytes + lengthBytes <= bytes.length, 'reads stay inside the disk');
      return Buffer.from(bytes.subarray(offsetBytes, offsetBytes + lengthBytes));
    },
    ...(ranges === undefined
      ? {}
      : {
          async *dataRanges() {
            yield* ranges;
          },
        }),
  };
  return { disk, reads };
}

async function reassemble(disk: ReadableDisk, chunkBytes: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  let expectedOffset = 0;
  for await (const chunk of diskChunks(disk, chunkBytes)) {
    assert.equal(chunk.offsetBytes, expectedOffset, 'chunks follow each other without gaps');
    const part = chunk.kind === 'data' ? chunk.data : Buffer.alloc(chunk.lengthBytes);
    if (chunk.kind === 'data') assert.ok(part.length <= chunkBytes);
    parts.push(part);
    expectedOffset += part.length;
  }
  return Buffer.concat(parts);
}

test('chunks cover the disk in order: data ranges read, the gaps as zero runs', async () => {
  const bytes = Buffer.alloc(100_000);
  patternBytes(30_000, 1).copy(bytes, 10_000);
  patternBytes(5_000, 2).copy(bytes, 95_000);
  // Overlapping and out-of-disk ranges, as filesystems report at their own granularity.
  const ranges = [
    { startBytes: 8_192, endBytes: 40_960 },
    { startBytes: 36_000, endBytes: 41_000 },
    { startBytes: 94_208, endBytes: 200_000 },
  ];
  const { disk, reads } = memoryDisk(bytes, ranges);
  assert.deepEqual(await reassemble(disk, 4096), bytes);
  const readBytes = reads.reduce((sum, [, lengthBytes]) => sum + lengthBytes, 0);
  assert.equal(
    readBytes,
    40_960 - 8_192 + 41_000 - 40_960 + 100_000 - 94_208,
    'holes are not read',
  );
});

test('a disk that cannot report holes is read whole; an empty disk yields nothing', async () => {
  const bytes = patternBytes(10_001, 3);
  const { disk, reads } = memoryDisk(bytes);
  assert.deepEqual(await reassemble(disk, 4096), bytes);
  assert.deepEqual(reads, [
    [0, 4096],
    [4096, 4096],
    [8192, 1809],
  ]);
  assert.deepEqual(await reassemble(memoryDisk(Buffer.alloc(0)).disk, 4096), Buffer.alloc(0));
});

test('a failed read rejects the walk', async () => {
  const disk: ReadableDisk = {
    sizeBytes: 10_000,
    read: async (offsetBytes) => {
      if (offsetBytes > 0) throw new Error(`EIO at ${offsetBytes}`);
      return Buffer.alloc(4096);
    },
  };
  await assert.rejects(reassemble(disk, 4096), /EIO at 4096/);
});

test('the streamed sha256 equals the sha256 of the bytes', async () => {
  const bytes = Buffer.alloc(9 * 1024 * 1024);
  patternBytes(1000, 4).copy(bytes, 5 * 1024 * 1024 + 3);
  const { disk } = memoryDisk(bytes, [{ startBytes: 5 * 1024 * 1024, endBytes: 6 * 1024 * 1024 }]);
  assert.equal(await sha256OfDisk(disk), createHash('sha256').update(bytes).digest('hex'));
});
