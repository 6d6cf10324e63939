/**
 * The Kafka record batch header, magic 2 (KIP-98; Kafka protocol guide, "Record Batch").
 * Big-endian, 61 bytes, followed by the records section:
 *
 *   offset  size  field
 *        0     8  baseOffset            ┐ outside the CRC: the broker rewrites baseOffset
 *        8     4  batchLength           │ (bytes after this field: 49 + records section)
 *       12     4  partitionLeaderEpoch  ┘
 *       16     1  magic (= 2)
 *       17     4  crc (CRC-32C of bytes 21 .. end of batch)
 *       21     2  attributes (bits 0-2 codec, 3 timestamp type, 4 transactional, 5 control)
 *       23     4  lastOffsetDelta
 *       27     8  baseTimestamp
 *       35     8  maxTimestamp
 *       43     8  producerId (-1: not idempotent)
 *       51     2  producerEpoch
 *       53     4  baseSequence
 *       57     4  recordCount
 *       61        records …
 */
import { crc32c } from '@node-rs/crc32';

export const BATCH_HEADER_BYTES = 61;
/** baseOffset + batchLength: the bytes of a batch that batchLength does not count. */
export const BATCH_LENGTH_PREFIX_BYTES = 12;
/** batchLength of a batch with an empty records section. */
export const BATCH_LENGTH_WITHOUT_RECORDS = BATCH_HEADER_BYTES - BATCH_LENGTH_PREFIX_BYTES;
export const BATCH_CRC_POSITION = 17;
export const BATCH_CRC_START = 21;
export const BATCH_RECORD_COUNT_POSITION = 57;
export const BATCH_LENGTH_POSITION = 8;
export const BATCH_MAGIC_POSITION = 16;

export const COMPRESSION_CODEC_MASK = 0x07;
export const COMPRESSION_NONE = 0;
export const COMPRESSION_GZIP = 1;
export const TRANSACTIONAL_FLAG = 0x10;
export const CONTROL_FLAG = 0x20;

/** Producer ids below zero mark non-idempotent batches. */
export const NO_PRODUCER_ID = -1;
const TWO_POW_32 = 0x1_0000_0000;

export interface BatchHeader {
  readonly baseOffset: number;
  readonly batchLength: number;
  /** Whole batch on disk: BATCH_LENGTH_PREFIX_BYTES + batchLength. */
  readonly sizeBytes: number;
  readonly magic: number;
  readonly crc: number;
  readonly attributes: number;
  readonly lastOffsetDelta: number;
  readonly baseTimestamp: number;
  readonly maxTimestamp: number;
  readonly producerId: number;
  readonly producerEpoch: number;
  readonly baseSequence: number;
  readonly recordCount: number;
}

/** A signed 64-bit big-endian integer as a number (exact below 2^53, as offsets are). */
export function readInt64(buffer: Buffer, position: number): number {
  return buffer.readInt32BE(position) * TWO_POW_32 + buffer.readUInt32BE(position + 4);
}

export function writeInt64(buffer: Buffer, position: number, value: number): void {
  buffer.writeInt32BE(Math.floor(value / TWO_POW_32), position);
  buffer.writeUInt32BE(value >>> 0, position + 4);
}

/** Parses the header at `position`; the caller guarantees BATCH_HEADER_BYTES are there. */
export function readBatchHeader(buffer: Buffer, position: number): BatchHeader {
  const batchLength = buffer.readInt32BE(position + 8);
  return {
    baseOffset: readInt64(buffer, position),
    batchLength,
    sizeBytes: BATCH_LENGTH_PREFIX_BYTES + batchLength,
    magic: buffer.readInt8(position + 16),
    crc: buffer.readUInt32BE(position + 17),
    attributes: buffer.readInt16BE(position + 21),
    lastOffsetDelta: buffer.readInt32BE(position + 23),
    baseTimestamp: readInt64(buffer, position + 27),
    maxTimestamp: readInt64(buffer, position + 35),
    producerId: readInt64(buffer, position + 43),
    producerEpoch: buffer.readInt16BE(position + 51),
    baseSequence: buffer.readInt32BE(position + 53),
    recordCount: buffer.readInt32BE(position + 57),
  };
}

export function lastOffsetOf(header: BatchHeader): number {
  return header.baseOffset + header.lastOffsetDelta;
}

/** Sequence of the batch's last record; sequences wrap from 2^31-1 to 0 (as producers do). */
export function lastSequenceOf(header: BatchHeader): number {
  return (header.baseSequence + header.lastOffsetDelta) % 0x8000_0000;
}

/** CRC-32C over attributes .. end of the batch that starts at `position`. */
export function computeBatchCrc(buffer: Buffer, position: number, sizeBytes: number): number {
  return crc32c(buffer.subarray(position + BATCH_CRC_START, position + sizeBytes));
}

/** Rewrites baseOffset in place; the CRC does not cover it, so the batch stays valid. */
export function writeBaseOffset(buffer: Buffer, position: number, baseOffset: number): void {
  writeInt64(buffer, position, baseOffset);
}
