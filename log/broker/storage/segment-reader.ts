/**
 * Fetch reads from one segment: whole batches starting with the one that holds the fetch
 * offset, up to a byte budget. The sparse index narrows the start; one positional read of
 * the budget (or of the first batch, when that is larger) fills one buffer that is returned
 * as a view, so large batches are neither parsed nor copied.
 */
import {
  BATCH_HEADER_BYTES,
  BATCH_LENGTH_POSITION,
  BATCH_LENGTH_PREFIX_BYTES,
  readInt64,
} from './record-batch-header.js';
import type { Segment } from './segment.js';

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
