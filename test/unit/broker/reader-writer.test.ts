import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { ProtocolDecodeError, Reader } from '../../../log/broker/protocol/reader.js';
import { Writer } from '../../../log/broker/protocol/writer.js';

type Field =
  | { kind: 'int8' | 'int16' | 'int32'; value: number }
  | { kind: 'int64'; value: number }
  | { kind: 'string'; value: string | null }
  | { kind: 'bytes'; value: Buffer | null };

const field: fc.Arbitrary<Field> = fc.oneof(
  fc.integer({ min: -128, max: 127 }).map((value) => ({ kind: 'int8' as const, value })),
  fc.integer({ min: -32768, max: 32767 }).map((value) => ({ kind: 'int16' as const, value })),
  fc.integer().map((value) => ({ kind: 'int32' as const, value })),
  fc.maxSafeInteger().map((value) => ({ kind: 'int64' as const, value })),
  fc
    .option(fc.string({ unit: 'grapheme', maxLength: 300 }))
    .map((value) => ({ kind: 'string' as const, value })),
  fc.option(fc.uint8Array({ maxLength: 9000, size: 'max' })).map((value) => ({
    kind: 'bytes' as const,
    value: value === null ? null : Buffer.from(value),
  })),
);

test('whatever the writer writes (across scratch growth and borrowed bytes) the reader reads back', () => {
  fc.assert(
    fc.property(fc.array(field, { maxLength: 60, size: 'max' }), (fields) => {
      const writer = Writer.response(42);
      for (const f of fields) {
        if (f.kind === 'int8') writer.int8(f.value);
        else if (f.kind === 'int16') writer.int16(f.value);
        else if (f.kind === 'int32') writer.int32(f.value);
        else if (f.kind === 'int64') writer.int64(f.value);
        else if (f.kind === 'string') writer.nullableString(f.value);
        else if (f.kind === 'bytes') writer.nullableBytes(f.value);
      }
      const frame = Buffer.concat(writer.frame());
      const reader = new Reader(frame);
      assert.equal(reader.int32(), frame.length - 4);
      assert.equal(reader.int32(), 42);
      for (const f of fields) {
        if (f.kind === 'int8') assert.equal(reader.int8(), f.value);
        else if (f.kind === 'int16') assert.equal(reader.int16(), f.value);
        else if (f.kind === 'int32') assert.equal(reader.int32(), f.value);
        else if (f.kind === 'int64') assert.equal(reader.int64(), f.value);
        else if (f.kind === 'string') assert.equal(reader.nullableString(), f.value);
        else if (f.kind === 'bytes') assert.deepEqual(reader.nullableBytes(), f.value);
      }
      assert.equal(reader.remaining(), 0);
    }),
  );
});

test('fields written after the scratch buffer grows keep the earlier ones intact', () => {
  const writer = Writer.response(9);
  for (let i = 0; i < 1000; i++) writer.int8(i % 100);
  writer.nullableString('x'.repeat(3000)).int16(-2);
  const reader = new Reader(Buffer.concat(writer.frame()));
  assert.deepEqual([reader.int32(), reader.int32()], [4 + 1000 + 2 + 3000 + 2, 9]);
  for (let i = 0; i < 1000; i++) assert.equal(reader.int8(), i % 100);
  assert.equal(reader.string(), 'x'.repeat(3000));
  assert.equal(reader.int16(), -2);
});

test('large byte fields are borrowed, not copied', () => {
  const records = Buffer.alloc(64 * 1024, 7);
  const buffers = Writer.response(1).int16(0).bytes(records).frame();
  assert.ok(buffers.includes(records));
});

test('varints and varlongs decode zig-zag values', () => {
  // 0 → 0, -1 → 1, 1 → 2, 300 → 600 = 0xd8 0x04
  const reader = new Reader(Buffer.from([0x00, 0x01, 0x02, 0xd8, 0x04, 0x01]));
  assert.deepEqual(
    [reader.varint(), reader.varint(), reader.varint(), reader.varint()],
    [0, -1, 1, 300],
  );
  assert.equal(reader.varlong(), -1);
  assert.throws(() => new Reader(Buffer.alloc(6, 0xff)).varint(), ProtocolDecodeError);
});

test('decoding errors name the byte position and never read past the frame', () => {
  const truncated = new Reader(Buffer.from([0x00, 0x05, 0x61]));
  assert.throws(() => truncated.string(), /truncated string: needed 5 bytes, 1 left at byte 2/);
  const negative = new Reader(Buffer.from([0xff, 0xfe]));
  assert.throws(() => negative.nullableString(), /negative string length -2 at byte 0/);
  const forged = new Reader(Buffer.from([0x7f, 0xff, 0xff, 0xff, 0x00]));
  assert.throws(
    () => forged.array((r) => r.int32(), 4),
    /array count 2147483647 exceeds the 1 bytes left at byte 0/,
  );
  const bounded = new Reader(Buffer.from([0, 0, 0, 1, 0, 0, 0, 9]), 0, 6);
  bounded.int32();
  assert.throws(() => bounded.int32(), /truncated int32/);
});
