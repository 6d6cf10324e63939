/** Disk images the benchmarks build: half-allocated images and a 1 % change of their blocks. */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { open, truncate, writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { MiB } from './harness.js';

export const BLOCK_BYTES = 4096;

/** `dataBytesPer8MiB` of random data at the start of every 8 MiB (half allocated by default). */
export async function makeImage(
  imagePath: string,
  sizeBytes: number,
  dataBytesPer8MiB = 4 * MiB,
): Promise<void> {
  await writeFile(imagePath, '');
  await truncate(imagePath, sizeBytes);
  const handle = await open(imagePath, 'r+');
  const chunk = randomBytes(dataBytesPer8MiB);
  for (let offsetBytes = 0; offsetBytes < sizeBytes; offsetBytes += 8 * MiB) {
    chunk.writeDoubleLE(offsetBytes, 0);
    await handle.write(chunk, 0, chunk.length, offsetBytes);
  }
  await handle.close();
}

/** Rewrites 1 % of the 4 KiB blocks, spread over the data and the holes; returns how many. */
export async function changeOnePercent(imagePath: string, sizeBytes: number): Promise<number> {
  const handle = await open(imagePath, 'r+');
  const blocks = sizeBytes / BLOCK_BYTES;
  let changed = 0;
  for (let block = 37; block < blocks; block += 100) {
    await handle.write(randomBytes(BLOCK_BYTES), 0, BLOCK_BYTES, block * BLOCK_BYTES);
    changed++;
  }
  await handle.close();
  return changed;
}

/** How the peer row names {@link rsyncBlockDelta}. */
export const RSYNC_DELTA = `rsync --inplace --no-whole-file -I -B ${BLOCK_BYTES}`;

/**
 * rsync's delta transfer of `imagePath` onto an older copy, in 4 KiB blocks: the peer of an
 * incremental sync. `--ignore-times`, because the copy and the change may fall in the same
 * second, and rsync's size-and-mtime quick check would then skip the file unread.
 */
export async function rsyncBlockDelta(imagePath: string, copyPath: string): Promise<void> {
  await promisify(execFile)('rsync', [
    '--inplace',
    '--no-whole-file',
    '--ignore-times',
    '-B',
    String(BLOCK_BYTES),
    imagePath,
    copyPath,
  ]);
}
