/**
 * How extentlog reads Avro (avsc 5.x): schemas are parsed with two primitives replaced.
 *
 * - `long` decodes to a bigint, always: a JavaScript number silently rounds above 2^53, so
 *   every long is read exactly and each field is converted (and range-checked) by the codec.
 *   Writing accepts bigints and safe-integer numbers.
 * - `bytes` decodes to a view of the frame instead of a copy: WRITE data is up to ~1 MiB
 *   per record and copying it would cost as much as the rest of the decode. A view keeps
 *   the frame alive as long as the data is referenced.
 *
 * The bytes override reads avsc's internal Tap (`buf`, `pos`, `readLong`), stable across
 * avsc 5.x; the codec tests check that decoded data shares the frame's memory.
 */
import { readFileSync } from 'node:fs';
import avro from 'avsc';

/** The part of avsc's internal cursor the bytes override reads. */
interface AvscTap {
  buf: Buffer;
  pos: number;
  readLong(): number;
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

function isLong(value: unknown): value is bigint | number {
  return typeof value === 'bigint'
    ? value >= INT64_MIN && value <= INT64_MAX
    : Number.isSafeInteger(value);
}

const bigintLong = avro.types.LongType.__with({
  fromBuffer: (buffer: Buffer) => buffer.readBigInt64LE(0),
  toBuffer: (value: bigint | number) => {
    const buffer = Buffer.allocUnsafe(8);
    buffer.writeBigInt64LE(BigInt(value));
    return buffer;
  },
  fromJSON: (value: unknown) => BigInt(value as string | number),
  toJSON: (value: bigint) =>
    value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER)
      ? Number(value)
      : value.toString(),
  isValid: isLong,
  compare: (a: bigint | number, b: bigint | number) => (a < b ? -1 : a > b ? 1 : 0),
});

class ViewBytesType extends avro.types.BytesType {}
Object.defineProperty(ViewBytesType.prototype, '_read', {
  value(this: ViewBytesType, tap: AvscTap): Buffer | undefined {
    const lengthBytes = tap.readLong();
    const start = tap.pos;
    tap.pos += lengthBytes;
    if (lengthBytes < 0 || tap.pos > tap.buf.length) {
      tap.pos = tap.buf.length + 1; // marks the tap invalid, as avsc does for bad lengths
      return undefined;
    }
    return tap.buf.subarray(start, tap.pos);
  },
});
const viewBytes = new ViewBytesType();

/** Parses a schema with the bigint long and the view bytes (a fresh name registry per call). */
export function parseAvroType(schema: avro.Schema): avro.Type {
  return avro.Type.forSchema(schema, { registry: { long: bigintLong, bytes: viewBytes } });
}

/** Reads one of the `.avsc` files that ship beside this module (or beside its source). */
export function loadSchemaFile(fileName: string): avro.Schema {
  const candidates = [
    new URL(`./${fileName}`, import.meta.url),
    new URL(`../../schemas/${fileName}`, import.meta.url),
  ];
  for (const candidate of candidates) {
    try {
      return JSON.parse(readFileSync(candidate, 'utf8')) as avro.Schema;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }
  throw new Error(
    `schema file ${fileName} not found next to ${import.meta.url} nor in the source schemas/ folder`,
  );
}
