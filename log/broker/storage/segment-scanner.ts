/**
 * Sequential scan of the record batches in a segment file, reading in large chunks (one
 * read serves many small batches; a batch larger than a chunk is read or checksummed in
 * pieces, never whole unless asked). Stops at the first batch that must not be served —
 * a torn write, zero fill, garbage or a CRC mismatch — and reports where the sound prefix
 * ends. Used by recovery, producer-state rebuild, compaction and timestamp lookups.
 */
import type { FileHandle } from 'node:fs/promises';
import { crc32c } from '@node-rs/crc32';
import {
  BATCH_CRC_START,
  BATCH_HEADER_BYTES,
  lastOffsetOf,
  readBatchHeader,
  type BatchHeader,
} from './record-batch-header.js';
import { batchCrcMatches, storedBatchDefect } from './record-batch-validation.js';
import { readFully } from './positional-io.js';

export interface ScannedBatch {
  readonly header: BatchHeader;
  readonly positionBytes: number;
  /** The whole batch (a view valid during the callback only) when `wholeBatches` is set. */
  readonly bytes: Buffer | null;
}

export interface ScanOptions {
  /** Half-open byte range [startBytes, endBytes) of the file to scan. */
  readonly startBytes: number;
  readonly endBytes: number;
  /** The first batch must not start below this offset; each next one above the previous. */
  readonly minBaseOffset: number;
  /** Check every batch's CRC-32C (recovery); header-only scans skip batch bodies. */
  readonly verifyCrc: boolean;
  /** Hand every batch's bytes to the callback (compaction). */
  readonly wholeBatches?: boolean;
  readonly chunkBytes?: number;
}

export interface ScanEnd {
  /** End of the sound prefix: where the next batch would start. */
  readonly endBytes: number;
  /** Offset after the last sound batch. */
  readonly nextOffset: number;
  /** Why the scan stopped before `endBytes` of the options, or null when it reached it. */
  readonly defect: string | null;
}

const DEFAULT_CHUNK_BYTES = 4 * 1024 * 1024;

/**
 * Calls `onBatch` for each sound batch in order (awaiting it when it returns a promise);
 * `onBatch` returning `false` stops the scan early.
 */
export async function scanSegmentFile(
  handle: FileHandle,
  options: ScanOptions,
  onBatch: (batch: ScannedBatch) => void | boolean | Promise<void | boolean>,
): Promise<ScanEnd> {
  const chunkBytes = options.chunkBytes ?? DEFAULT_CHUNK_BYTES;
  const reader = new ChunkReader(handle, chunkBytes, options.endBytes);
  const needBody = options.verifyCrc || options.wholeBatches === true;
  let position = options.startBytes;
  let nextOffset = options.minBaseOffset;
  let defect: string | null = null;
  while (position < options.endBytes) {
    const available = options.endBytes - position;
    if (available < BATCH_HEADER_BYTES) {
      defect = `${available} bytes remain, too few for a batch header (torn write)`;
      break;
    }
    const headerView = await reader.view(position, BATCH_HEADER_BYTES);
    const header = readBatchHeader(headerView.buffer, headerView.at);
    defect = storedBatchDefect(header, available, nextOffset);
    if (defect !== null) break;
    let bytes: Buffer | null = null;
    if (needBody) {
      if (header.sizeBytes <= chunkBytes || options.wholeBatches === true) {
        const body = await reader.view(position, header.sizeBytes);
        bytes = body.buffer.subarray(body.at, body.at + header.sizeBytes);
        if (options.verifyCrc && !batchCrcMatches(bytes, 0, header)) defect = 'CRC-32C mismatch';
      } else if (!(await streamedCrcMatches(reader, position, header))) {
        defect = 'CRC-32C mismatch';
      }
      if (defect !== null) break;
    }
    const verdict = onBatch({
      header,
      positionBytes: position,
      bytes: options.wholeBatches === true ? bytes : null,
    });
    const proceed = verdict instanceof Promise ? await verdict : verdict;
    position += header.sizeBytes;
    nextOffset = lastOffsetOf(header) + 1;
    if (proceed === false) break;
  }
  return {
    endBytes: position,
    nextOffset,
    defect: defect === null ? null : `${defect} at byte ${position}`,
  };
}

async function streamedCrcMatches(
  reader: ChunkReader,
  position: number,
  header: BatchHeader,
): Promise<boolean> {
  let crc = 0;
  let at = position + BATCH_CRC_START;
  const end = position + header.sizeBytes;
  while (at < end) {
    const length = Math.min(reader.chunkBytes, end - at);
    const piece = await reader.view(at, length);
    crc = crc32c(piece.buffer.subarray(piece.at, piece.at + length), crc);
    at += length;
  }
  return crc === header.crc;
}

/** Serves byte ranges of a file from one reusable chunk, refilling it on a miss. */
class ChunkReader {
  private chunk: Buffer;
  private chunkStart = 0;
  private chunkLength = 0;

  constructor(
    private readonly handle: FileHandle,
    readonly chunkBytes: number,
    private readonly endBytes: number,
  ) {
    this.chunk = Buffer.allocUnsafe(0);
  }

  /** A view of [position, position + length); length ≤ chunkBytes unless the chunk must grow. */
  async view(position: number, length: number): Promise<{ buffer: Buffer; at: number }> {
    const inChunk =
      position >= this.chunkStart && position + length <= this.chunkStart + this.chunkLength;
    if (!inChunk) await this.fill(position, length);
    return { buffer: this.chunk, at: position - this.chunkStart };
  }

  private async fill(position: number, length: number): Promise<void> {
    const want = Math.min(Math.max(length, this.chunkBytes), this.endBytes - position);
    if (this.chunk.length < want) this.chunk = Buffer.allocUnsafe(want);
    const filled = await readFully(this.handle, this.chunk, want, position);
    this.chunkStart = position;
    this.chunkLength = filled;
    if (filled < length)
      throw new Error(`file ended at byte ${position + filled}, expected ${position + length}`);
  }
}
