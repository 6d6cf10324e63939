/** Building and inspecting raw image files in tests. */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, writeFile } from 'node:fs/promises';
import { sha256OfDisk } from '../../bin/image-sha256.js';
import { openImageReader } from '../../consumers/file/image-reader.js';

/** sha256 of a whole file (or of its first `lengthBytes`), hex. */
export async function sha256OfFile(filePath: string, lengthBytes?: number): Promise<string> {
  const hash = createHash('sha256');
  const stream = createReadStream(
    filePath,
    lengthBytes === undefined ? {} : { end: lengthBytes - 1 },
  );
  for await (const chunk of stream) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Writes `data` at `offsetBytes`, creating the file if needed. */
export async function writeAt(filePath: string, offsetBytes: number, data: Buffer): Promise<void> {
  const handle = await open(filePath, 'r+');
  try {
    await handle.write(data, 0, data.length, offsetBytes);
  } finally {
    await handle.close();
  }
}

/** Deterministic bytes: the same `seed` always gives the same buffer. */
export function patternBytes(lengthBytes: number, seed: number): Buffer {
  const bytes = Buffer.allocUnsafe(lengthBytes);
  let state = (seed * 2654435761) >>> 0 || 1;
  for (let index = 0; index < lengthBytes; index++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    bytes[index] = state & 0xff;
  }
  return bytes;
}

/**
 * sha256 of a whole sparse file, equal to `sha256OfFile`, but holes (SEEK_DATA/SEEK_HOLE)
 * are hashed as zeros without being read: for GiB-sized images that are mostly holes.
 */
export async function sha256OfSparseFile(filePath: string): Promise<string> {
  const reader = await openImageReader({ path: filePath, diskId: filePath });
  try {
    return await sha256OfDisk(reader);
  } finally {
    await reader.close();
  }
}

/**
 * The 64 MiB sample disk the end-to-end tests replicate: a sparse file with data at its
 * start, an unaligned run in the middle and its last MiB.
 */
export async function createSampleDisk(filePath: string): Promise<void> {
  const handle = await open(filePath, 'w');
  await handle.truncate(64 * 1024 * 1024);
  await handle.close();
  const MiB = 1024 * 1024;
  await writeAt(filePath, 0, patternBytes(3 * MiB, 1));
  await writeAt(filePath, 20 * MiB + 4096, patternBytes(5 * MiB + 123, 2));
  await writeAt(filePath, 63 * MiB, patternBytes(MiB, 3));
}

/** A disk image of `sizeBytes` whose first `dataBytes` hold `patternBytes(…, seed)`, the rest a hole. */
export async function makeImage(
  filePath: string,
  dataBytes: number,
  sizeBytes: number,
  seed = 1,
): Promise<void> {
  await writeFile(filePath, patternBytes(dataBytes, seed));
  const handle = await open(filePath, 'r+');
  try {
    await handle.truncate(sizeBytes);
  } finally {
    await handle.close();
  }
}
