/** Building and inspecting raw image files in tests. */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';

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

const ZERO_CHUNK = Buffer.alloc(8 * 1024 * 1024);

/**
 * sha256 of a whole sparse file, equal to `sha256OfFile`, but holes (SEEK_DATA/SEEK_HOLE)
 * are hashed from a zero buffer instead of read: for GiB-sized images that are mostly holes.
 */
export async function sha256OfSparseFile(filePath: string): Promise<string> {
  const { dataRanges } = await import('../../native/fileio/data-ranges.js');
  const hash = createHash('sha256');
  const handle = await open(filePath, 'r');
  try {
    const sizeBytes = (await handle.stat()).size;
    const hashZeros = (lengthBytes: number) => {
      for (let left = lengthBytes; left > 0; left -= ZERO_CHUNK.length)
        hash.update(ZERO_CHUNK.subarray(0, Math.min(left, ZERO_CHUNK.length)));
    };
    let cursor = 0;
    const buffer = Buffer.allocUnsafe(ZERO_CHUNK.length);
    for (const range of await dataRanges(handle.fd, 0, sizeBytes, { path: filePath })) {
      hashZeros(range.startBytes - cursor);
      for (let at = range.startBytes; at < range.endBytes;) {
        const length = Math.min(buffer.length, range.endBytes - at);
        const { bytesRead } = await handle.read(buffer, 0, length, at);
        if (bytesRead === 0) throw new Error(`${filePath} ended at ${at}`);
        hash.update(buffer.subarray(0, bytesRead));
        at += bytesRead;
      }
      cursor = range.endBytes;
    }
    hashZeros(sizeBytes - cursor);
  } finally {
    await handle.close();
  }
  return hash.digest('hex');
}
