import assert from 'node:assert/strict';
import { test } from 'node:test';
import avro from 'avsc';
import { parseAvroType } from '../../../schemas/avro-types.js';

const long = parseAvroType('long');
const standardLong = avro.Type.forSchema('long');

test('longs encode like Avro and decode to bigints', () => {
  const safe = [0, 1, -1, 63, 64, -64, -65, 2 ** 31, -(2 ** 31), 2 ** 49, 2 ** 52, -(2 ** 52)];
  for (const value of safe) {
    const expected = standardLong.toBuffer(value);
    assert.deepEqual(long.toBuffer(value), expected, `number ${value}`);
    assert.deepEqual(long.toBuffer(BigInt(value)), expected, `bigint ${value}`);
    assert.equal(long.fromBuffer(expected), BigInt(value));
  }
  const beyond: [bigint, string][] = [
    [2n ** 63n - 1n, 'feffffffffffffffff01'],
    [-(2n ** 63n), 'ffffffffffffffffff01'],
  ];
  for (const [value, hex] of beyond) {
    assert.equal(long.toBuffer(value).toString('hex'), hex, `${value}`);
    assert.equal(long.fromBuffer(Buffer.from(hex, 'hex')), value);
  }
  // avsc's own long stops at 2^52; above it, round trips and the bigint path must agree
  for (const value of [2 ** 53 - 1, -(2 ** 53 - 1), 2 ** 52 + 1])
    assert.deepEqual(long.toBuffer(value), long.toBuffer(BigInt(value)), `${value}`);
  assert.equal(long.fromBuffer(long.toBuffer(2 ** 53 - 1)), 2n ** 53n - 1n);
  assert.equal(long.fromBuffer(long.toBuffer(2n ** 53n)), 2n ** 53n);
  assert.equal(long.fromBuffer(long.toBuffer(-(2n ** 53n) - 3n)), -(2n ** 53n) - 3n);
  assert.throws(() => long.toBuffer(2n ** 63n));
  assert.throws(() => long.toBuffer(0.5));
});

test('bytes decode as a view of the input', () => {
  const bytes = parseAvroType('bytes');
  const encoded = Buffer.concat([Buffer.from([0x06]), Buffer.from('abc')]);
  const decoded = bytes.fromBuffer(encoded) as Buffer;
  assert.equal(decoded.toString(), 'abc');
  assert.equal(decoded.buffer, encoded.buffer);
  assert.equal(bytes.decode(Buffer.from([0x08, 1, 2]), 0).offset, -1, 'short input is truncated');
  assert.equal(
    bytes.decode(Buffer.from([0x01, 1, 2]), 0).offset,
    -1,
    'a negative length is invalid',
  );
});
