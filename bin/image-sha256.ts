/**
 * The sha256 of a whole disk, streamed: bounded memory (two read chunks), holes hashed as
 * zeros without reading them. It is the digest `verify` and `restore` compare, and the one
 * `sha256sum` prints for the same image.
 */
import { createHash } from 'node:crypto';
import { diskChunks, ZERO_CHUNK, type ReadableDisk } from './disk-chunks.js';

/** Feeds `lengthBytes` zeros into `hash`. */
export function updateWithZeros(hash: { update(data: Buffer): unknown }, lengthBytes: number) {
  for (let leftBytes = lengthBytes; leftBytes > 0; leftBytes -= ZERO_CHUNK.length)
    hash.update(ZERO_CHUNK.subarray(0, Math.min(leftBytes, ZERO_CHUNK.length)));
}

export async function sha256OfDisk(
  disk: ReadableDisk,
  onProgress?: (doneBytes: number) => void,
): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of diskChunks(disk)) {
    if (chunk.kind === 'data') hash.update(chunk.data);
    else updateWithZeros(hash, chunk.lengthBytes);
    onProgress?.(
      chunk.offsetBytes + (chunk.kind === 'data' ? chunk.data.length : chunk.lengthBytes),
    );
  }
  return hash.digest('hex');
}
