/**
 * Sparse index of one segment: every ~indexIntervalBytes of log (and at every batch when
 * batches are larger) one entry maps a batch's base offset to its byte position, together
 * with the largest batch timestamp *before* that batch, which makes timestamp lookups a
 * binary search too (the running maximum never decreases).
 *
 * Held in memory (16 bytes per entry: 4 KiB of log costs at most 16 bytes); written to
 * `<baseOffset>.index` when the segment is closed and at clean shutdown. The file is only
 * trusted when its checksum holds and it describes exactly the segment's current size;
 * anything else is rebuilt by scanning the segment.
 *
 *   .index file (big-endian)
 *     0  u32  magic 'XLIX'
 *     4  u32  CRC-32C of bytes 8 .. end
 *     8  u16  version (1)      10 u16 entry bytes (16)     12 u32 entry count
 *    16  i64  segment size in bytes the index describes
 *    24  i64  next offset (last offset of the segment + 1)
 *    32  i64  max batch timestamp in the segment (-1 when none)
 *    40  i64  max timestamp of the segment's first batch (segment.ms roll time; -1 when none)
 *    48  entries: u32 offset − segment base | u32 byte position | i64 max timestamp before
 */
import { crc32c } from '@node-rs/crc32';
import { readInt64, writeInt64 } from './record-batch-header.js';

const MAGIC = 0x584c4958;
const VERSION = 1;
const HEADER_BYTES = 48;
export const INDEX_ENTRY_BYTES = 16;

/** The segment facts an index file carries besides its entries. */
export interface SegmentSummary {
  readonly sizeBytes: number;
  readonly nextOffset: number;
  readonly maxTimestampMs: number;
  readonly firstBatchTimestampMs: number;
}

export class OffsetIndex {
  private entries: Buffer;
  private count = 0;
  private bytesSinceEntry = 0;

  constructor(
    readonly baseOffset: number,
    private readonly intervalBytes: number,
    initialEntries: Buffer = Buffer.alloc(INDEX_ENTRY_BYTES * 64),
    initialCount = 0,
  ) {
    this.entries = initialEntries;
    this.count = initialCount;
    // A reloaded index continues sparse: the next batch gets an entry.
    this.bytesSinceEntry = initialCount === 0 ? 0 : intervalBytes;
  }

  get entryCount(): number {
    return this.count;
  }

  /** Records a batch appended at `positionBytes`; call in log order. */
  addBatch(
    batchBaseOffset: number,
    positionBytes: number,
    sizeBytes: number,
    maxTimestampBefore: number,
  ): void {
    if (this.count === 0 || this.bytesSinceEntry >= this.intervalBytes) {
      this.push(batchBaseOffset - this.baseOffset, positionBytes, maxTimestampBefore);
      this.bytesSinceEntry = 0;
    }
    this.bytesSinceEntry += sizeBytes;
  }

  /** Byte position from which a scan finds the batch holding `offset` (0 when before every entry). */
  positionForOffset(offset: number): number {
    const relative = offset - this.baseOffset;
    const found = this.lastEntryWhere((entry) => this.entries.readUInt32BE(entry) <= relative);
    return found < 0 ? 0 : this.entries.readUInt32BE(found * INDEX_ENTRY_BYTES + 4);
  }

  /** Byte position from which a scan finds the first batch whose max timestamp is ≥ `timestampMs`. */
  positionForTimestamp(timestampMs: number): number {
    const found = this.lastEntryWhere((entry) => readInt64(this.entries, entry + 8) < timestampMs);
    return found < 0 ? 0 : this.entries.readUInt32BE(found * INDEX_ENTRY_BYTES + 4);
  }

  serialize(summary: SegmentSummary): Buffer {
    const file = Buffer.alloc(HEADER_BYTES + this.count * INDEX_ENTRY_BYTES);
    file.writeUInt32BE(MAGIC, 0);
    file.writeUInt16BE(VERSION, 8);
    file.writeUInt16BE(INDEX_ENTRY_BYTES, 10);
    file.writeUInt32BE(this.count, 12);
    writeInt64(file, 16, summary.sizeBytes);
    writeInt64(file, 24, summary.nextOffset);
    writeInt64(file, 32, summary.maxTimestampMs);
    writeInt64(file, 40, summary.firstBatchTimestampMs);
    this.entries.copy(file, HEADER_BYTES, 0, this.count * INDEX_ENTRY_BYTES);
    file.writeUInt32BE(crc32c(file.subarray(8)), 4);
    return file;
  }

  /** The index and summary in `file`, or null when it is damaged or from another format. */
  static parse(
    file: Buffer,
    baseOffset: number,
    intervalBytes: number,
  ): { index: OffsetIndex; summary: SegmentSummary } | null {
    if (file.length < HEADER_BYTES || file.readUInt32BE(0) !== MAGIC) return null;
    if (file.readUInt32BE(4) !== crc32c(file.subarray(8))) return null;
    if (file.readUInt16BE(8) !== VERSION || file.readUInt16BE(10) !== INDEX_ENTRY_BYTES)
      return null;
    const count = file.readUInt32BE(12);
    if (file.length !== HEADER_BYTES + count * INDEX_ENTRY_BYTES) return null;
    const entries = Buffer.from(file.subarray(HEADER_BYTES));
    return {
      index: new OffsetIndex(baseOffset, intervalBytes, entries, count),
      summary: {
        sizeBytes: readInt64(file, 16),
        nextOffset: readInt64(file, 24),
        maxTimestampMs: readInt64(file, 32),
        firstBatchTimestampMs: readInt64(file, 40),
      },
    };
  }

  private push(relativeOffset: number, positionBytes: number, maxTimestampBefore: number): void {
    const at = this.count * INDEX_ENTRY_BYTES;
    if (at + INDEX_ENTRY_BYTES > this.entries.length) {
      const grown = Buffer.alloc(Math.max(this.entries.length * 2, INDEX_ENTRY_BYTES * 64));
      this.entries.copy(grown, 0, 0, at);
      this.entries = grown;
    }
    this.entries.writeUInt32BE(relativeOffset, at);
    this.entries.writeUInt32BE(positionBytes, at + 4);
    writeInt64(this.entries, at + 8, maxTimestampBefore);
    this.count += 1;
  }

  /** Index of the last entry satisfying a predicate that holds for a prefix of entries; -1 if none. */
  private lastEntryWhere(holds: (entryPosition: number) => boolean): number {
    let low = 0;
    let high = this.count - 1;
    let found = -1;
    while (low <= high) {
      const middle = (low + high) >>> 1;
      if (holds(middle * INDEX_ENTRY_BYTES)) {
        found = middle;
        low = middle + 1;
      } else high = middle - 1;
    }
    return found;
  }
}
