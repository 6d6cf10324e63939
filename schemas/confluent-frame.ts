/**
 * The Confluent Schema Registry wire format ("Wire format" in Confluent's serializer
 * documentation):
 *
 *   byte 0     1             5
 *        +-----+-------------+---------------------------+
 *        |  0  |  schema id  |  Avro binary body          |
 *        +-----+-------------+---------------------------+
 *         magic  int32 BE      encoded with that schema
 *
 * For a union schema the body starts with the branch index (a zigzag varint long, Avro
 * specification "Binary Encoding").
 */
import { SchemaError } from './errors.js';

export const MAGIC_BYTE = 0;
export const FRAME_HEADER_BYTES = 5;

/** Checks the header of a frame and returns its schema id. */
export function readFrameSchemaId(frame: Buffer, label: string): number {
  if (frame.length < FRAME_HEADER_BYTES)
    throw new SchemaError(
      'EXTENTLOG_ERR_SCHEMA_SHORT_FRAME',
      `${label} frame of ${frame.length} bytes: expected at least ${FRAME_HEADER_BYTES} bytes (magic byte 0 and a 4-byte schema id), received ${frame.length} (ends at byte ${frame.length})`,
      { details: { frameBytes: frame.length } },
    );
  const magic = frame[0];
  if (magic !== MAGIC_BYTE)
    throw new SchemaError(
      'EXTENTLOG_ERR_SCHEMA_BAD_MAGIC',
      `${label} frame: expected magic byte 0 at byte 0, received 0x${(magic ?? 0).toString(16).padStart(2, '0')}; the value was not written by a Schema Registry serializer`,
      { details: { magic } },
    );
  return frame.readInt32BE(1);
}

/** Writes magic byte and schema id; returns where the Avro body starts. */
export function writeFrameHeader(frame: Buffer, schemaId: number): number {
  frame[0] = MAGIC_BYTE;
  frame.writeInt32BE(schemaId, 1);
  return FRAME_HEADER_BYTES;
}

export interface VarintRead {
  readonly value: number;
  /** Position of the byte after the varint. */
  readonly next: number;
}

/**
 * Reads an Avro long (zigzag varint) that is expected to be small: a union or enum index,
 * a length. Returns undefined when the buffer ends inside it; values beyond 2^53 come back
 * imprecise, which is fine for a number that is then range-checked.
 */
export function readZigzagVarint(buffer: Buffer, at: number): VarintRead | undefined {
  let unsigned = 0;
  let scale = 1;
  for (let position = at; position < buffer.length && position < at + 10; position += 1) {
    const byte = buffer[position] ?? 0;
    unsigned += (byte & 0x7f) * scale;
    if ((byte & 0x80) === 0) {
      const value = unsigned % 2 === 0 ? unsigned / 2 : -(unsigned + 1) / 2;
      return { value, next: position + 1 };
    }
    scale *= 128;
  }
  return undefined;
}

/** Writes a small non-negative Avro long (a union index); returns the next position. */
export function writeZigzagVarint(frame: Buffer, index: number, at: number): number {
  let unsigned = index * 2;
  let position = at;
  while (unsigned >= 0x80) {
    frame[position++] = (unsigned & 0x7f) | 0x80;
    unsigned = Math.floor(unsigned / 128);
  }
  frame[position++] = unsigned;
  return position;
}
