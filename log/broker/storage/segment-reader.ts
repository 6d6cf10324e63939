/**
 * Reads from one segment. Fetch: whole batches starting with the one that holds the fetch
 * offset, up to a byte budget; the sparse index narrows the start, and one positional read
 * of the budget (or of the first batch, when that is larger) fills one buffer that is
 * returned as a view, so large batches are neither parsed nor copied. ListOffsets by time:
 * the index narrows the start, a header-only scan finds the batch.
 */
import {
  BATCH_HEADER_BYTES,
  BATCH_LENGTH_POSITION,
  BATCH_LENGTH_PREFIX_BYTES,
  readInt64,
} from './record-batch-header.js';
import type { Segment } from './segment.js';
import { scanSegmentFile } from './segment-scanner.js';

/** Smallest read while looking for the batch holding the fetch offset (the index is sparse). */
const MIN_WINDOW_BYTES = 64 * 1024;
const LAST_OFFSET_DELTA_POSITION = 23;

/**
 * Batches of `segment` below byte `limitBytes` whose last offset is ≥ `fetchOffset`: at least
 * one whole batch, then more while the total stays within `maxBytes`. Null when the segment
 * holds no such batch below the limit.
 */
export async function readBatchesFrom(
  segment: Segment,
  fetchOffset: number,
  maxBytes: number,
  limitBytes: number,
): Promise<Buffer | null> {
  let position = segment.index.positionForOffset(fetchOffset);
  while (position + BATCH_HEADER_BYTES <= limitBytes) {
    const windowBytes = Math.min(limitBytes - position, Math.max(maxBytes, MIN_WINDOW_BYTES));
    const window = await segment.read(position, windowBytes);
    if (window.length < BATCH_HEADER_BYTES)
      throw new Error(
        `${segment.logPath} ends at byte ${position + window.length}, before its published end ${limitBytes}`,
      );
    let at = 0;
    while (
      at + BATCH_HEADER_BYTES <= window.length &&
      readInt64(window, at) + window.readInt32BE(at + LAST_OFFSET_DELTA_POSITION) < fetchOffset
    )
      at += batchSize(window, at);
    if (at + BATCH_HEADER_BYTES > window.length) {
      position += at;
      continue;
    }
    const firstSize = batchSize(window, at);
    if (at + firstSize > window.length) return segment.read(position + at, firstSize);
    let end = at + firstSize;
    while (end + BATCH_LENGTH_PREFIX_BYTES <= window.length) {
      const size = batchSize(window, end);
      if (end + size > window.length || end + size - at > maxBytes) break;
      end += size;
    }
    return window.subarray(at, end);
  }
  return null;
}

function batchSize(buffer: Buffer, at: number): number {
  return BATCH_LENGTH_PREFIX_BYTES + buffer.readInt32BE(at + BATCH_LENGTH_POSITION);
}

/** Base offset of the first batch below `limitBytes` whose max timestamp is ≥ `timestampMs`. */
export async function findBatchByTimestamp(
  segment: Segment,
  timestampMs: number,
  limitBytes: number,
): Promise<number | null> {
  if (segment.maxTimestampMs < timestampMs) return null;
  let offset: number | null = null;
  await scanSegmentFile(
    segment.fileHandle,
    {
      startBytes: segment.index.positionForTimestamp(timestampMs),
      endBytes: limitBytes,
      minBaseOffset: 0,
      verifyCrc: false,
      chunkBytes: MIN_WINDOW_BYTES,
    },
    ({ header }) => {
      if (header.maxTimestamp < timestampMs) return true;
      offset = header.baseOffset;
      return false;
    },
  );
  return offset;
}

/** The last segment whose base offset is ≤ `offset` (the first when none is). */
export function segmentHolding(segments: readonly Segment[], offset: number): Segment | undefined {
  let low = 0;
  let high = segments.length - 1;
  let found = 0;
  while (low <= high) {
    const middle = (low + high) >>> 1;
    if ((segments[middle]?.baseOffset ?? Infinity) <= offset) {
      found = middle;
      low = middle + 1;
    } else high = middle - 1;
  }
  return segments[found];
}
