/**
 * Walks a readable disk (a restore point, a source image) from its first byte to its last as
 * data chunks and zero runs, in order. Holes the disk reports (`dataRanges`) come out as zero
 * runs without being read; data is read in chunks of at most `chunkBytes`, one chunk ahead
 * of the consumer, so reading overlaps whatever the consumer does (hashing, writing) while
 * memory stays at two chunks.
 */
import type { DiskRange, RestorePointReader } from '../consumers/target.js';

export type ReadableDisk = Pick<RestorePointReader, 'sizeBytes' | 'read' | 'dataRanges'>;

export type DiskChunk =
  | { readonly kind: 'data'; readonly offsetBytes: number; readonly data: Buffer }
  | { readonly kind: 'zero'; readonly offsetBytes: number; readonly lengthBytes: number };

export const DEFAULT_CHUNK_BYTES = 4 * 1024 * 1024;

/** Zeros to compare and hash against, one chunk long. */
export const ZERO_CHUNK: Buffer = Buffer.alloc(DEFAULT_CHUNK_BYTES);

/** The disk's data ranges, or all of it as one range when the disk cannot tell. */
async function* rangesOf(disk: ReadableDisk): AsyncIterable<DiskRange> {
  if (disk.dataRanges === undefined) {
    if (disk.sizeBytes > 0) yield { startBytes: 0, endBytes: disk.sizeBytes };
    return;
  }
  yield* disk.dataRanges();
}

/** Data ranges cut into reads and the gaps between them, as a plan (nothing read yet). */
async function* plan(disk: ReadableDisk, chunkBytes: number) {
  let cursor = 0;
  for await (const range of rangesOf(disk)) {
    const startBytes = Math.max(cursor, range.startBytes);
    const endBytes = Math.min(disk.sizeBytes, range.endBytes);
    if (endBytes <= startBytes) continue;
    if (startBytes > cursor)
      yield { kind: 'zero', offsetBytes: cursor, lengthBytes: startBytes - cursor } as const;
    for (let offsetBytes = startBytes; offsetBytes < endBytes; offsetBytes += chunkBytes)
      yield {
        kind: 'read',
        offsetBytes,
        lengthBytes: Math.min(chunkBytes, endBytes - offsetBytes),
      } as const;
    cursor = endBytes;
  }
  if (cursor < disk.sizeBytes)
    yield { kind: 'zero', offsetBytes: cursor, lengthBytes: disk.sizeBytes - cursor } as const;
}

export async function* diskChunks(
  disk: ReadableDisk,
  chunkBytes: number = DEFAULT_CHUNK_BYTES,
): AsyncIterable<DiskChunk> {
  // One read in flight ahead of the chunk being consumed; zero runs wait their turn.
  type Pending = Promise<DiskChunk>;
  let ahead: Pending | null = null;
  for await (const step of plan(disk, chunkBytes)) {
    const next: Pending =
      step.kind === 'zero'
        ? Promise.resolve(step)
        : disk
            .read(step.offsetBytes, step.lengthBytes)
            .then((data) => ({ kind: 'data', offsetBytes: step.offsetBytes, data }) as const);
    // Keep a rejected read from going unhandled while it waits behind the previous chunk.
    next.catch(() => undefined);
    if (ahead !== null) yield await ahead;
    ahead = next;
  }
  if (ahead !== null) yield await ahead;
}
