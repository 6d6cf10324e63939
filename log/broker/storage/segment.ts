/**
 * One segment of a partition log: `<baseOffset, 20 digits>.log` holding magic-2 record
 * batches back to back, exactly as produced except for the rewritten baseOffset, and its
 * sparse `.index` (see offset-index.ts). Appends are positional writes at the end of the
 * file, one write per Produce entry; the written-but-not-yet-fsynced tail is tracked so the
 * partition can publish only durable bytes.
 *
 * A segment object may be retired (deleted by retention, replaced by compaction) while
 * reads still use it: its file handle stays open until the last reader releases it.
 */
import { open, readFile, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { ignoreMissing, writeFileAtomic } from './durable-file.js';
import { OffsetIndex, type SegmentSummary } from './offset-index.js';
import { readFully, writeFully } from './positional-io.js';
import { lastOffsetOf, type BatchHeader } from './record-batch-header.js';

export const LOG_SUFFIX = '.log';
export const INDEX_SUFFIX = '.index';

export function segmentFileStem(baseOffset: number): string {
  return String(baseOffset).padStart(20, '0');
}

export class Segment {
  readonly logPath: string;
  readonly indexPath: string;
  /** Bytes of complete batches written (the next append goes here). */
  sizeBytes: number;
  nextOffset: number;
  maxTimestampMs: number;
  firstBatchTimestampMs: number;
  /** Written since the last fsync. */
  dirty = false;
  private readers = 0;
  private retired = false;
  private closed = false;

  private constructor(
    directory: string,
    readonly baseOffset: number,
    private readonly handle: FileHandle,
    public index: OffsetIndex,
    summary: SegmentSummary,
  ) {
    const stem = segmentFileStem(baseOffset);
    this.logPath = path.join(directory, stem + LOG_SUFFIX);
    this.indexPath = path.join(directory, stem + INDEX_SUFFIX);
    this.sizeBytes = summary.sizeBytes;
    this.nextOffset = summary.nextOffset;
    this.maxTimestampMs = summary.maxTimestampMs;
    this.firstBatchTimestampMs = summary.firstBatchTimestampMs;
  }

  /** Creates an empty segment file (the caller makes the directory entry durable). */
  static async create(
    directory: string,
    baseOffset: number,
    indexIntervalBytes: number,
  ): Promise<Segment> {
    const logPath = path.join(directory, segmentFileStem(baseOffset) + LOG_SUFFIX);
    const handle = await open(logPath, 'wx+');
    return new Segment(
      directory,
      baseOffset,
      handle,
      new OffsetIndex(baseOffset, indexIntervalBytes),
      {
        sizeBytes: 0,
        nextOffset: baseOffset,
        maxTimestampMs: -1,
        firstBatchTimestampMs: -1,
      },
    );
  }

  /**
   * Opens an existing segment. With `trustIndex`, a sound index file describing exactly the
   * file's size supplies the metadata; otherwise (or when it does not) `needsScan` is true
   * and the caller must rebuild through `resetForScan` + `addBatch`.
   */
  static async open(
    directory: string,
    baseOffset: number,
    indexIntervalBytes: number,
    trustIndex: boolean,
  ): Promise<{ segment: Segment; needsScan: boolean }> {
    const stem = segmentFileStem(baseOffset);
    const handle = await open(path.join(directory, stem + LOG_SUFFIX), 'r+');
    try {
      const { size } = await handle.stat();
      const parsed = trustIndex
        ? await readIndexFile(
            path.join(directory, stem + INDEX_SUFFIX),
            baseOffset,
            indexIntervalBytes,
          )
        : null;
      if (parsed !== null && parsed.summary.sizeBytes === size)
        return {
          segment: new Segment(directory, baseOffset, handle, parsed.index, parsed.summary),
          needsScan: false,
        };
      const empty = {
        sizeBytes: size,
        nextOffset: baseOffset,
        maxTimestampMs: -1,
        firstBatchTimestampMs: -1,
      };
      return {
        segment: new Segment(
          directory,
          baseOffset,
          handle,
          new OffsetIndex(baseOffset, indexIntervalBytes),
          empty,
        ),
        needsScan: true,
      };
    } catch (error) {
      await handle.close();
      throw error;
    }
  }

  get fileHandle(): FileHandle {
    return this.handle;
  }

  summary(): SegmentSummary {
    return {
      sizeBytes: this.sizeBytes,
      nextOffset: this.nextOffset,
      maxTimestampMs: this.maxTimestampMs,
      firstBatchTimestampMs: this.firstBatchTimestampMs,
    };
  }

  /** Forgets the metadata before a rebuilding scan; `addBatch` then restores it. */
  resetForScan(indexIntervalBytes: number): void {
    this.index = new OffsetIndex(this.baseOffset, indexIntervalBytes);
    this.sizeBytes = 0;
    this.nextOffset = this.baseOffset;
    this.maxTimestampMs = -1;
    this.firstBatchTimestampMs = -1;
  }

  /** Accounts a batch now in the file at `positionBytes` (append or rebuilding scan). */
  addBatch(header: BatchHeader, positionBytes: number): void {
    this.index.addBatch(header.baseOffset, positionBytes, header.sizeBytes, this.maxTimestampMs);
    if (this.firstBatchTimestampMs < 0) this.firstBatchTimestampMs = header.maxTimestamp;
    this.maxTimestampMs = Math.max(this.maxTimestampMs, header.maxTimestamp);
    this.nextOffset = lastOffsetOf(header) + 1;
    this.sizeBytes = positionBytes + header.sizeBytes;
  }

  /**
   * Writes `entry` (whole batches, offsets already assigned) at the end of the file in one
   * positional write, then accounts its batches. On failure the file is cut back, so a
   * failed append leaves no partial batch behind.
   */
  async append(entry: Buffer, headers: readonly BatchHeader[]): Promise<void> {
    const start = this.sizeBytes;
    try {
      await writeFully(this.handle, entry, start);
    } catch (error) {
      await this.handle.truncate(start).catch(() => undefined);
      throw error;
    }
    this.dirty = true;
    let position = start;
    for (const header of headers) {
      this.addBatch(header, position);
      position += header.sizeBytes;
    }
  }

  /** Up to `lengthBytes` from `positionBytes` (fewer at end of file), in one fresh buffer. */
  async read(positionBytes: number, lengthBytes: number): Promise<Buffer> {
    const buffer = Buffer.allocUnsafe(lengthBytes);
    const filled = await readFully(this.handle, buffer, lengthBytes, positionBytes);
    return filled === lengthBytes ? buffer : buffer.subarray(0, filled);
  }

  /** fdatasync; clears `dirty` only for the writes it covers. */
  async flush(): Promise<void> {
    if (!this.dirty) return;
    this.dirty = false;
    try {
      await this.handle.datasync();
    } catch (error) {
      this.dirty = true;
      throw error;
    }
  }

  /** Cuts the file at `positionBytes` (recovery of a torn tail) and makes that durable. */
  async truncate(positionBytes: number): Promise<void> {
    await this.handle.truncate(positionBytes);
    await this.handle.datasync();
    this.sizeBytes = positionBytes;
  }

  async writeIndex(): Promise<void> {
    await writeFileAtomic(this.indexPath, this.index.serialize(this.summary()));
  }

  /** Marks a read in progress (false once the handle is closed); the handle stays open until `release`. */
  acquire(): boolean {
    if (this.closed) return false;
    this.readers += 1;
    return true;
  }

  release(): void {
    this.readers -= 1;
    if (this.retired && this.readers === 0) void this.closeHandle();
  }

  /** No new reads; the handle closes once current readers are done. */
  retire(): Promise<void> {
    this.retired = true;
    return this.readers === 0 ? this.closeHandle() : Promise.resolve();
  }

  private async closeHandle(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.handle.close().catch(() => undefined);
  }
}

async function readIndexFile(
  indexPath: string,
  baseOffset: number,
  indexIntervalBytes: number,
): Promise<ReturnType<typeof OffsetIndex.parse>> {
  try {
    return OffsetIndex.parse(await readFile(indexPath), baseOffset, indexIntervalBytes);
  } catch (error) {
    ignoreMissing(error);
    return null;
  }
}
