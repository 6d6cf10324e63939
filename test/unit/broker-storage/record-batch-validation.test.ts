import assert from 'node:assert/strict';
import { test } from 'node:test';
import { StoreError } from '../../../log/broker/storage/errors.js';
import { validateProducedEntry } from '../../../log/broker/storage/record-batch-validation.js';
import { buildBatch, filledBatch } from '../../support/magic2-batch.js';

const context = { topic: 'extents', partition: 3, maxMessageBytes: 1_048_588 };

function rejects(entry: Buffer, kafkaError: string, message: RegExp, limits = context): void {
  assert.throws(
    () => validateProducedEntry(entry, limits),
    (error: unknown) => {
      assert.ok(error instanceof StoreError);
      assert.equal(error.kafkaError, kafkaError);
      assert.match(error.message, /extents-3/);
      assert.match(error.message, message);
      return true;
    },
  );
}

/** Re-seals a batch after a test edits its CRC-covered bytes. */
function reseal(batch: Buffer): Buffer {
  return buildBatchCrc(batch);
}

function buildBatchCrc(batch: Buffer): Buffer {
  const copy = Buffer.from(batch);
  // CRC-32C over attributes..end, computed independently of the store.
  copy.writeUInt32BE(crc32cOf(copy.subarray(21)), 17);
  return copy;
}

function crc32cOf(bytes: Buffer): number {
  let crc = 0xffffffff;
  for (const byte of bytes) {
    crc ^= byte;
    for (let bit = 0; bit < 8; bit += 1) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

test('valid batches tiling the entry pass and yield their headers', () => {
  const entry = Buffer.concat([filledBatch(1, 3, 10), filledBatch(2, 1, 5)]);
  const headers = validateProducedEntry(entry, context);
  assert.deepEqual(
    headers.map((header) => [header.recordCount, header.lastOffsetDelta, header.magic]),
    [
      [3, 2, 2],
      [1, 0, 2],
    ],
  );
  assert.equal(
    headers.reduce((total, header) => total + header.sizeBytes, 0),
    entry.length,
  );
});

test('a flipped bit is a CRC mismatch naming the byte position', () => {
  const first = filledBatch(1, 2, 10);
  const second = filledBatch(2, 2, 10);
  second.writeUInt8(second.readUInt8(second.length - 1) ^ 0x01, second.length - 1);
  rejects(
    Buffer.concat([first, second]),
    'CORRUPT_MESSAGE',
    new RegExp(`byte ${first.length}.*CRC-32C`),
  );
});

test('old magic is unsupported, unknown magic is corrupt', () => {
  const batch = filledBatch(1, 1, 10);
  batch.writeInt8(1, 16);
  rejects(batch, 'UNSUPPORTED_FOR_MESSAGE_FORMAT', /magic 1/);
  batch.writeInt8(7, 16);
  rejects(batch, 'CORRUPT_MESSAGE', /expected magic 2, received 7/);
});

test('inconsistent lengths are corrupt', () => {
  const batch = filledBatch(1, 2, 10);
  rejects(batch.subarray(0, 40), 'CORRUPT_MESSAGE', /61-byte header, received 40/);
  rejects(
    batch.subarray(0, batch.length - 1),
    'CORRUPT_MESSAGE',
    /declares \d+ bytes but \d+ remain/,
  );
  const short = Buffer.from(batch);
  short.writeInt32BE(10, 8);
  rejects(short, 'CORRUPT_MESSAGE', /batchLength 10 is below the 49/);
  rejects(
    Buffer.concat([batch, Buffer.alloc(7)]),
    'CORRUPT_MESSAGE',
    new RegExp(`byte ${batch.length}`),
  );
  rejects(Buffer.alloc(0), 'CORRUPT_MESSAGE', /no record batch/);
});

test('a batch above max.message.bytes is too large', () => {
  const batch = filledBatch(1, 1, 2000);
  rejects(batch, 'MESSAGE_TOO_LARGE', /max\.message\.bytes 1000/, {
    ...context,
    maxMessageBytes: 1000,
  });
});

test('record counts must be positive and match lastOffsetDelta', () => {
  const batch = filledBatch(1, 3, 10);
  const zero = Buffer.from(batch);
  zero.writeInt32BE(0, 57);
  rejects(reseal(zero), 'CORRUPT_MESSAGE', /recordCount ≥ 1, received 0/);
  const delta = Buffer.from(batch);
  delta.writeInt32BE(5, 23);
  rejects(reseal(delta), 'CORRUPT_MESSAGE', /lastOffsetDelta 5 does not match recordCount 3/);
});

test('transactional batches are refused', () => {
  const batch = filledBatch(1, 1, 10);
  batch.writeInt16BE(0x10, 21);
  rejects(reseal(batch), 'UNSUPPORTED_FOR_MESSAGE_FORMAT', /transactional/);
});

test('an idempotent batch needs a sequence and epoch', () => {
  const batch = buildBatch({
    records: [{ key: null, value: Buffer.from('v') }],
    producerId: 7,
    producerEpoch: 0,
    baseSequence: -1,
  });
  rejects(batch, 'CORRUPT_MESSAGE', /producer 7 has baseSequence -1/);
});

test('the test CRC-32C matches the standard check value', () => {
  assert.equal(crc32cOf(Buffer.from('123456789')).toString(16), 'e3069283');
});
