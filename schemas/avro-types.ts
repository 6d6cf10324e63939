/**
 * How extentlog reads Avro (avsc 5.x): schemas are parsed with two primitives replaced.
 *
 * - `long` decodes to a bigint, always: a JavaScript number silently rounds above 2^53, so
 *   every long is read exactly and each field is converted (and range-checked) by the codec.
 *   Writing accepts bigints and safe-integer numbers.
 * - `bytes` decodes to a view of the frame instead of a copy: WRITE data is up to ~1 MiB
 *   per record and copying it would cost far more than the rest of the decode. A view keeps
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

// Longs are handed to avsc as their zigzag varint bytes ("noUnpack"), converted here
// without BigInt arithmetic where the value fits a double, and written from one scratch
// buffer that avsc copies from at once.
const varintScratch = Buffer.alloc(10);
const ZIGZAG_EXACT_NEGATIVE = 2 ** 52;

function toZigzagVarint(value: bigint | number): Buffer {
  let length = 0;
  if (typeof value === 'number' && value >= -ZIGZAG_EXACT_NEGATIVE) {
    // 2v for v ≥ 0 is exact in a double up to 2^54; -2v-1 is odd and exact only below 2^53
    let zigzag = value >= 0 ? value * 2 : -value * 2 - 1;
    while (zigzag >= 0x80) {
      varintScratch[length++] = (zigzag % 0x80) | 0x80;
      zigzag = Math.floor(zigzag / 0x80);
    }
    varintScratch[length++] = zigzag;
  } else {
    const big = BigInt(value);
    let zigzag = big >= 0n ? big << 1n : (-big << 1n) - 1n;
    while (zigzag >= 0x80n) {
      varintScratch[length++] = Number(zigzag & 0x7fn) | 0x80;
      zigzag >>= 7n;
    }
    varintScratch[length++] = Number(zigzag);
  }
  return varintScratch.subarray(0, length);
}

function fromZigzagVarint(bytes: Buffer): bigint {
  if (bytes.length <= 7) {
    // up to 49 bits: plain double arithmetic is exact
    let zigzag = 0;
    let scale = 1;
    for (const byte of bytes) {
      zigzag += (byte & 0x7f) * scale;
      scale *= 0x80;
    }
    return BigInt(zigzag % 2 === 0 ? zigzag / 2 : -(zigzag + 1) / 2);
  }
  let zigzag = 0n;
  let shift = 0n;
  for (const byte of bytes) {
    zigzag |= BigInt(byte & 0x7f) << shift;
    shift += 7n;
  }
  return zigzag & 1n ? -((zigzag + 1n) >> 1n) : zigzag >> 1n;
}

const bigintLong = avro.types.LongType.__with(
  {
    fromBuffer: fromZigzagVarint,
    toBuffer: toZigzagVarint,
    fromJSON: (value: unknown) => BigInt(value as string | number),
    toJSON: (value: bigint) =>
      value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER)
        ? Number(value)
        : value.toString(),
    isValid: isLong,
    compare: (a: bigint | number, b: bigint | number) => (a < b ? -1 : a > b ? 1 : 0),
  },
  true,
);

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
