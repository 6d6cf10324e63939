import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readBatchHeader } from '../../../log/broker/storage/record-batch-header.js';
import {
  decodeRecords,
  rebuildBatch,
  recordsAreDecodable,
} from '../../../log/broker/storage/record-batch-records.js';
import { validateProducedEntry } from '../../../log/broker/storage/record-batch-validation.js';
import { buildBatch, parseBatches } from '../../support/magic2-batch.js';

const records = [
  { key: Buffer.from('a'), value: Buffer.from('1'), timestampDeltaMs: 0 },
  { key: null, value: Buffer.from('no key'), timestampDeltaMs: 5 },
  { key: Buffer.from('b'), value: null, timestampDeltaMs: 300 },
  {
    key: Buffer.from('c'.repeat(200)),
    value: Buffer.alloc(70_000, 7),
    timestampDeltaMs: 1_000_000,
  },
];

for (const compression of ['none', 'gzip'] as const)
  test(`records of ${compression} batches decode, and a rebuilt batch keeps offsets and validates`, () => {
    const batch = buildBatch({
      records,
      compression,
      baseOffset: 1000,
      producerId: 5,
      producerEpoch: 1,
      baseSequence: 40,
    });
    const header = readBatchHeader(batch, 0);
    assert.ok(recordsAreDecodable(header));
    const decoded = decodeRecords(batch, header);
    assert.deepEqual(
      decoded.map((record) => [
        record.offsetDelta,
        record.timestampDelta,
        record.key?.toString() ?? null,
        record.isTombstone,
      ]),
      [
        [0, 0, 'a', false],
        [1, 5, null, false],
        [2, 300, 'b', true],
        [3, 1_000_000, 'c'.repeat(200), false],
      ],
    );
    const rebuilt = rebuildBatch(batch, header, [decoded[1]!, decoded[3]!]);
    const rebuiltHeader = readBatchHeader(rebuilt, 0);
    assert.equal(rebuiltHeader.recordCount, 2);
    assert.equal(
      rebuiltHeader.lastOffsetDelta,
      3,
      'the batch still ends at its original last offset',
    );
    assert.equal(rebuiltHeader.baseSequence, 40);
    const [parsed] = parseBatches(rebuilt);
    assert.ok(parsed?.crcValid);
    assert.deepEqual(
      parsed.records.map((record) => [record.offset, record.key?.length ?? null]),
      [
        [1001, null],
        [1003, 200],
      ],
    );
    // Only lastOffsetDelta ≠ recordCount − 1 keeps it from being a valid produce entry.
    assert.throws(
      () => validateProducedEntry(rebuilt, { topic: 't', partition: 0, maxMessageBytes: 1 << 20 }),
      /lastOffsetDelta 3/,
    );
  });

test('snappy, lz4, zstd and control batches are not decoded', () => {
  const batch = buildBatch({ records: [{ key: null, value: null }] });
  for (const attributes of [2, 3, 4, 0x20]) {
    batch.writeInt16BE(attributes, 21);
    assert.equal(recordsAreDecodable(readBatchHeader(batch, 0)), false);
  }
});
