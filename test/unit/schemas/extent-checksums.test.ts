import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { createEpochDigest } from '../../../schemas/epoch-digest.js';
import { extentCrc32c, type ExtentChecksumInput } from '../../../schemas/extent-crc.js';
import { SchemaError } from '../../../schemas/errors.js';

/** Bit-at-a-time CRC-32C (reflected polynomial 0x82F63B78), independent of @node-rs/crc32. */
function bitwiseCrc32c(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of bytes) {
    crc ^= byte;
    for (let bit = 0; bit < 8; bit += 1) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

/** The 33-byte header, built with DataView and BigInt rather than the module's arithmetic. */
function header(extent: Omit<ExtentChecksumInput, 'data'>): Uint8Array {
  const bytes = new Uint8Array(33);
  const view = new DataView(bytes.buffer);
  view.setBigUint64(0, BigInt(extent.epoch));
  view.setBigUint64(8, BigInt(extent.seq));
  view.setBigUint64(16, BigInt(extent.offsetBytes));
  view.setBigUint64(24, BigInt(extent.lengthBytes));
  view.setUint8(32, { WRITE: 0, ZERO: 1, DISCARD: 2 }[extent.op]);
  return bytes;
}

function expectedCrc(extent: ExtentChecksumInput): number {
  const data = extent.data ?? new Uint8Array(0);
  const bytes = new Uint8Array(33 + data.length);
  bytes.set(header(extent));
  bytes.set(data, 33);
  return bitwiseCrc32c(bytes);
}

const data = Buffer.from(Array.from({ length: 4096 }, (_, index) => (index * 31 + 7) & 0xff));
const write: ExtentChecksumInput = {
  epoch: 3,
  seq: 1200,
  offsetBytes: 1 << 30,
  lengthBytes: data.length,
  op: 'WRITE',
  data,
};

test('the reference CRC-32C gives the standard check value', () => {
  assert.equal(bitwiseCrc32c(Buffer.from('123456789')), 0xe3069283);
});

test('extentCrc32c covers the big-endian header and the data', () => {
  assert.equal(extentCrc32c(write), expectedCrc(write));
  const zero = { ...write, op: 'ZERO' as const, data: null };
  assert.equal(extentCrc32c(zero), expectedCrc(zero));
  const far = {
    epoch: Number.MAX_SAFE_INTEGER,
    seq: 2 ** 40 + 5,
    offsetBytes: Number.MAX_SAFE_INTEGER - 4095,
    lengthBytes: 0,
    op: 'DISCARD' as const,
    data: null,
  };
  assert.equal(extentCrc32c(far), expectedCrc(far));
  const empty = { ...write, lengthBytes: 0, data: Buffer.alloc(0) };
  assert.equal(extentCrc32c(empty), expectedCrc(empty));
});

test('extentCrc32c changes when any bit of the position or the data flips', () => {
  const base = extentCrc32c(write);
  assert.notEqual(extentCrc32c({ ...write, offsetBytes: write.offsetBytes + 512 }), base);
  assert.notEqual(extentCrc32c({ ...write, seq: write.seq + 1 }), base);
  assert.notEqual(extentCrc32c({ ...write, epoch: write.epoch + 1 }), base);
  const flipped = Buffer.from(data);
  flipped[2048] = (flipped[2048] ?? 0) ^ 0x10;
  assert.notEqual(extentCrc32c({ ...write, data: flipped }), base);
  assert.notEqual(
    extentCrc32c({ ...write, op: 'ZERO', data: null }),
    extentCrc32c({ ...write, op: 'DISCARD', data: null }),
  );
});

test('the epoch digest is sha256 over header + crc32c (u32 BE) per extent in seq order', () => {
  const extents = [
    { ...write, crc32c: extentCrc32c(write) },
    { ...write, seq: 1201, op: 'ZERO' as const, data: null, crc32c: 0xdeadbeef },
    { ...write, seq: 1205, offsetBytes: 0, lengthBytes: 65536, op: 'DISCARD' as const, crc32c: 0 },
  ];
  const expected = createHash('sha256');
  for (const extent of extents) {
    expected.update(header(extent));
    const crc = new Uint8Array(4);
    new DataView(crc.buffer).setUint32(0, extent.crc32c);
    expected.update(crc);
  }
  const digest = createEpochDigest(3);
  for (const extent of extents) digest.add(extent);
  assert.equal(digest.hex(), expected.digest('hex'));
  assert.equal(digest.extentCount, 3);
  assert.equal(
    createEpochDigest(9).hex(),
    'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
  );
});

test('the epoch digest refuses extents of another epoch or out of seq order', () => {
  const digest = createEpochDigest(3);
  digest.add({ ...write, crc32c: 1 });
  assert.throws(
    () => digest.add({ ...write, crc32c: 1 }),
    (error: unknown) =>
      error instanceof SchemaError &&
      error.code === 'EXTENTLOG_ERR_SCHEMA_INVALID_RECORD' &&
      /expected seq above 1200, received 1200/.test(error.message),
  );
  assert.throws(
    () => digest.add({ ...write, epoch: 4, seq: 5000, crc32c: 1 }),
    /expected an extent of epoch 3, received one of epoch 4/,
  );
});
