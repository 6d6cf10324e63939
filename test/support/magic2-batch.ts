/**
 * A small, independent writer and reader of Kafka magic-2 record batches for tests, written
 * from the protocol guide (not from the store's code), so the store is checked against a
 * second implementation of the format.
 */
import { crc32c } from '@node-rs/crc32';
import { gunzipSync, gzipSync } from 'node:zlib';

export interface TestRecord {
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly timestampDeltaMs?: number;
}

export interface TestBatchOptions {
  readonly records: readonly TestRecord[];
  readonly baseTimestampMs?: number;
  readonly producerId?: number;
  readonly producerEpoch?: number;
  readonly baseSequence?: number;
  readonly compression?: 'none' | 'gzip';
  readonly baseOffset?: number;
}

function zigzagVarint(value: number): Buffer {
  let zigzag = BigInt(value) >= 0n ? BigInt(value) << 1n : (-BigInt(value) << 1n) - 1n;
  const bytes: number[] = [];
  do {
    let byte = Number(zigzag & 0x7fn);
    zigzag >>= 7n;
    if (zigzag !== 0n) byte |= 0x80;
    bytes.push(byte);
  } while (zigzag !== 0n);
  return Buffer.from(bytes);
}

function readZigzagVarint(buffer: Buffer, at: number): { value: number; next: number } {
  let result = 0n;
  let shift = 0n;
  let position = at;
  for (;;) {
    const byte = buffer[position];
    if (byte === undefined) throw new Error(`varint runs past the end at ${position}`);
    position += 1;
    result |= BigInt(byte & 0x7f) << shift;
    shift += 7n;
    if ((byte & 0x80) === 0) break;
  }
  const value = (result & 1n) === 0n ? result >> 1n : -((result + 1n) >> 1n);
  return { value: Number(value), next: position };
}

function bytesField(bytes: Buffer | null): Buffer {
  return bytes === null ? zigzagVarint(-1) : Buffer.concat([zigzagVarint(bytes.length), bytes]);
}

function encodeRecord(record: TestRecord, offsetDelta: number): Buffer {
  const body = Buffer.concat([
    Buffer.from([0]),
    zigzagVarint(record.timestampDeltaMs ?? 0),
    zigzagVarint(offsetDelta),
    bytesField(record.key),
    bytesField(record.value),
    zigzagVarint(0),
  ]);
  return Buffer.concat([zigzagVarint(body.length), body]);
}

export function buildBatch(options: TestBatchOptions): Buffer {
  const baseTimestampMs = options.baseTimestampMs ?? Date.now();
  const encoded = Buffer.concat(
    options.records.map((record, index) => encodeRecord(record, index)),
  );
  const recordsSection = options.compression === 'gzip' ? gzipSync(encoded) : encoded;
  const header = Buffer.alloc(61);
  header.writeBigInt64BE(BigInt(options.baseOffset ?? 0), 0);
  header.writeInt32BE(49 + recordsSection.length, 8);
  header.writeInt32BE(-1, 12);
  header.writeInt8(2, 16);
  header.writeInt16BE(options.compression === 'gzip' ? 1 : 0, 21);
  header.writeInt32BE(options.records.length - 1, 23);
  header.writeBigInt64BE(BigInt(baseTimestampMs), 27);
  const maxDelta = Math.max(0, ...options.records.map((record) => record.timestampDeltaMs ?? 0));
  header.writeBigInt64BE(BigInt(baseTimestampMs + maxDelta), 35);
  header.writeBigInt64BE(BigInt(options.producerId ?? -1), 43);
  header.writeInt16BE(options.producerEpoch ?? -1, 51);
  header.writeInt32BE(options.baseSequence ?? -1, 53);
  header.writeInt32BE(options.records.length, 57);
  const batch = Buffer.concat([header, recordsSection]);
  batch.writeUInt32BE(crc32c(batch.subarray(21)), 17);
  return batch;
}

/** A batch of `count` records with `valueBytes`-byte values (content derived from `seed`). */
export function filledBatch(
  seed: number,
  count: number,
  valueBytes: number,
  extra: Partial<TestBatchOptions> = {},
): Buffer {
  const records = Array.from({ length: count }, (_, index) => ({
    key: Buffer.from(`key-${seed}-${index}`),
    value: Buffer.alloc(valueBytes, (seed * 31 + index) & 0xff),
  }));
  return buildBatch({ records, ...extra });
}

export interface ParsedRecord {
  readonly offset: number;
  readonly timestampMs: number;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
}

export interface ParsedBatch {
  readonly baseOffset: number;
  readonly lastOffset: number;
  readonly sizeBytes: number;
  readonly crcValid: boolean;
  readonly producerId: number;
  readonly baseSequence: number;
  readonly records: ParsedRecord[];
}

/** Splits stored bytes into batches and decodes their records (none or gzip). */
export function parseBatches(bytes: Buffer): ParsedBatch[] {
  const batches: ParsedBatch[] = [];
  let at = 0;
  while (at + 61 <= bytes.length) {
    const sizeBytes = 12 + bytes.readInt32BE(at + 8);
    if (at + sizeBytes > bytes.length) break;
    const batch = bytes.subarray(at, at + sizeBytes);
    const baseOffset = Number(batch.readBigInt64BE(0));
    const baseTimestampMs = Number(batch.readBigInt64BE(27));
    const codec = batch.readInt16BE(21) & 7;
    const section = codec === 1 ? gunzipSync(batch.subarray(61)) : batch.subarray(61);
    const records: ParsedRecord[] = [];
    let position = 0;
    for (let index = 0; index < batch.readInt32BE(57); index += 1) {
      const length = readZigzagVarint(section, position);
      let cursor = length.next + 1;
      const timestampDelta = readZigzagVarint(section, cursor);
      const offsetDelta = readZigzagVarint(section, timestampDelta.next);
      const keyLength = readZigzagVarint(section, offsetDelta.next);
      cursor = keyLength.next;
      const key = keyLength.value < 0 ? null : section.subarray(cursor, cursor + keyLength.value);
      cursor += Math.max(0, keyLength.value);
      const valueLength = readZigzagVarint(section, cursor);
      cursor = valueLength.next;
      const value =
        valueLength.value < 0 ? null : section.subarray(cursor, cursor + valueLength.value);
      records.push({
        offset: baseOffset + offsetDelta.value,
        timestampMs: baseTimestampMs + timestampDelta.value,
        key,
        value,
      });
      position = length.next + length.value;
    }
    batches.push({
      baseOffset,
      lastOffset: baseOffset + batch.readInt32BE(23),
      sizeBytes,
      crcValid: crc32c(batch.subarray(21)) === batch.readUInt32BE(17),
      producerId: Number(batch.readBigInt64BE(43)),
      baseSequence: batch.readInt32BE(53),
      records,
    });
    at += sizeBytes;
  }
  return batches;
}
