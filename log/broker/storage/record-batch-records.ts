/**
 * The records section of a magic-2 batch, for compaction only (the append and fetch paths
 * never parse records). Each record (Kafka protocol guide, "Record"):
 *
 *   length varint | attributes int8 | timestampDelta varlong | offsetDelta varint |
 *   keyLength varint | key | valueLength varint | value | headerCount varint | headers
 *
 * Varints are zig-zag encoded base-128 (protobuf style). A null key or value has length -1;
 * a record with a null value is a tombstone. Uncompressed and gzip sections are handled;
 * other codecs are left to the caller to keep as they are.
 */
import { gunzipSync, gzipSync } from 'node:zlib';
import {
  BATCH_CRC_POSITION,
  BATCH_HEADER_BYTES,
  BATCH_LENGTH_POSITION,
  BATCH_LENGTH_PREFIX_BYTES,
  BATCH_RECORD_COUNT_POSITION,
  COMPRESSION_CODEC_MASK,
  COMPRESSION_GZIP,
  COMPRESSION_NONE,
  computeBatchCrc,
  CONTROL_FLAG,
  type BatchHeader,
} from './record-batch-header.js';

export interface RecordView {
  readonly offsetDelta: number;
  readonly timestampDelta: number;
  /** Null for a null key. */
  readonly key: Buffer | null;
  readonly isTombstone: boolean;
  /** The record's bytes including its length prefix (a view into the section). */
  readonly raw: Buffer;
}

/** Whether compaction can read (and rewrite) the records of a batch with this header. */
export function recordsAreDecodable(header: BatchHeader): boolean {
  const codec = header.attributes & COMPRESSION_CODEC_MASK;
  return (
    (header.attributes & CONTROL_FLAG) === 0 &&
    (codec === COMPRESSION_NONE || codec === COMPRESSION_GZIP)
  );
}

/** The records of a whole batch (`recordsAreDecodable` must hold). Throws on malformed bytes. */
export function decodeRecords(batch: Buffer, header: BatchHeader): RecordView[] {
  const stored = batch.subarray(BATCH_HEADER_BYTES, header.sizeBytes);
  const section =
    (header.attributes & COMPRESSION_CODEC_MASK) === COMPRESSION_GZIP ? gunzipSync(stored) : stored;
  const records: RecordView[] = [];
  const cursor = new VarintCursor(section);
  for (let index = 0; index < header.recordCount; index += 1) {
    const start = cursor.position;
    const length = cursor.varint();
    const end = cursor.position + length;
    if (length < 0 || end > section.length)
      throw new Error(`record ${index} declares ${length} bytes past the end of its section`);
    cursor.position += 1; // attributes
    const timestampDelta = cursor.varint();
    const offsetDelta = cursor.varint();
    const key = cursor.bytes();
    const valueLength = cursor.varint();
    records.push({
      offsetDelta,
      timestampDelta,
      key,
      isTombstone: valueLength < 0,
      raw: section.subarray(start, end),
    });
    cursor.position = end;
  }
  return records;
}

/**
 * A copy of `batch` holding only `kept` of its records: same baseOffset, lastOffsetDelta,
 * timestamps and producer fields (so offsets and producer state stay as they were), new
 * recordCount, batchLength and CRC, recompressed with the batch's codec.
 */
export function rebuildBatch(
  batch: Buffer,
  header: BatchHeader,
  kept: readonly RecordView[],
): Buffer {
  const raw = Buffer.concat(kept.map((record) => record.raw));
  const section =
    (header.attributes & COMPRESSION_CODEC_MASK) === COMPRESSION_GZIP ? gzipSync(raw) : raw;
  const rebuilt = Buffer.allocUnsafe(BATCH_HEADER_BYTES + section.length);
  batch.copy(rebuilt, 0, 0, BATCH_HEADER_BYTES);
  section.copy(rebuilt, BATCH_HEADER_BYTES);
  rebuilt.writeInt32BE(rebuilt.length - BATCH_LENGTH_PREFIX_BYTES, BATCH_LENGTH_POSITION);
  rebuilt.writeInt32BE(kept.length, BATCH_RECORD_COUNT_POSITION);
  rebuilt.writeUInt32BE(computeBatchCrc(rebuilt, 0, rebuilt.length), BATCH_CRC_POSITION);
  return rebuilt;
}

class VarintCursor {
  position = 0;

  constructor(private readonly buffer: Buffer) {}

  /** A zig-zag varint/varlong (exact up to 2^53). */
  varint(): number {
    let value = 0;
    let scale = 1;
    for (let shift = 0; shift < 70; shift += 7) {
      const byte = this.buffer[this.position];
      if (byte === undefined) throw new Error(`varint runs past the end at ${this.position}`);
      this.position += 1;
      value += (byte & 0x7f) * scale;
      scale *= 128;
      if ((byte & 0x80) === 0) return value % 2 === 0 ? value / 2 : -(value + 1) / 2;
    }
    throw new Error(`varint longer than 10 bytes at ${this.position}`);
  }

  bytes(): Buffer | null {
    const length = this.varint();
    if (length < 0) return null;
    const end = this.position + length;
    if (end > this.buffer.length) throw new Error(`field of ${length} bytes runs past the end`);
    const bytes = this.buffer.subarray(this.position, end);
    this.position = end;
    return bytes;
  }
}
