import assert from 'node:assert/strict';
import { test } from 'node:test';
import { StoreError } from '../../../log/broker/storage/errors.js';
import { ProducerStateTable } from '../../../log/broker/storage/producer-state.js';
import type { BatchHeader } from '../../../log/broker/storage/record-batch-header.js';

const where = { topic: 'extents', partition: 0 };

function header(fields: {
  producerId: number;
  epoch?: number;
  sequence: number;
  records?: number;
  offset?: number;
  timestampMs?: number;
}): BatchHeader {
  const records = fields.records ?? 1;
  return {
    baseOffset: fields.offset ?? 0,
    batchLength: 100,
    sizeBytes: 112,
    magic: 2,
    crc: 0,
    attributes: 0,
    lastOffsetDelta: records - 1,
    baseTimestamp: fields.timestampMs ?? 1000,
    maxTimestamp: fields.timestampMs ?? 1000,
    producerId: fields.producerId,
    producerEpoch: fields.epoch ?? 0,
    baseSequence: fields.sequence,
    recordCount: records,
  };
}

function refuses(
  table: ProducerStateTable,
  batch: BatchHeader,
  kafkaError: string,
  message: RegExp,
): void {
  assert.throws(
    () => table.checkEntry([batch]),
    (error: unknown) =>
      error instanceof StoreError && error.kafkaError === kafkaError && message.test(error.message),
  );
}

/** Appends `count` batches of 2 records for a producer, as the partition would. */
function appendRun(
  table: ProducerStateTable,
  producerId: number,
  count: number,
  firstOffset = 0,
): BatchHeader[] {
  const appended: BatchHeader[] = [];
  for (let index = 0; index < count; index += 1) {
    const batch = header({
      producerId,
      sequence: index * 2,
      records: 2,
      offset: firstOffset + index * 2,
    });
    assert.deepEqual(table.checkEntry([batch]), { kind: 'append' });
    table.record(batch);
    appended.push(batch);
  }
  return appended;
}

test('a retry of any of the last five batches is a duplicate with its original offsets', () => {
  const table = new ProducerStateTable(where);
  appendRun(table, 42, 7, 100);
  for (let index = 2; index < 7; index += 1)
    assert.deepEqual(
      table.checkEntry([header({ producerId: 42, sequence: index * 2, records: 2, offset: 999 })]),
      {
        kind: 'duplicate',
        baseOffset: 100 + index * 2,
        lastOffset: 101 + index * 2,
      },
    );
  // The sixth-newest batch is no longer retained: its retry is out of order.
  refuses(
    table,
    header({ producerId: 42, sequence: 2, records: 2 }),
    'OUT_OF_ORDER_SEQUENCE_NUMBER',
    /expected sequence 14, received 2\.\.3/,
  );
});

test('a sequence gap is out of order; the next sequence appends', () => {
  const table = new ProducerStateTable(where);
  appendRun(table, 1, 2);
  refuses(
    table,
    header({ producerId: 1, sequence: 5 }),
    'OUT_OF_ORDER_SEQUENCE_NUMBER',
    /expected sequence 4, received 5/,
  );
  assert.deepEqual(table.checkEntry([header({ producerId: 1, sequence: 4 })]), { kind: 'append' });
});

test('an older epoch is fenced; a newer epoch restarts at sequence 0', () => {
  const table = new ProducerStateTable(where);
  table.record(header({ producerId: 9, epoch: 3, sequence: 0 }));
  refuses(
    table,
    header({ producerId: 9, epoch: 2, sequence: 1 }),
    'INVALID_PRODUCER_EPOCH',
    /epoch 2, but epoch 3/,
  );
  refuses(
    table,
    header({ producerId: 9, epoch: 4, sequence: 1 }),
    'OUT_OF_ORDER_SEQUENCE_NUMBER',
    /new epoch must start at 0/,
  );
  const restart = header({ producerId: 9, epoch: 4, sequence: 0 });
  assert.deepEqual(table.checkEntry([restart]), { kind: 'append' });
  table.record(restart);
  refuses(
    table,
    header({ producerId: 9, epoch: 3, sequence: 1 }),
    'INVALID_PRODUCER_EPOCH',
    /epoch 3, but epoch 4/,
  );
});

test('an unknown producer must start at sequence 0; non-idempotent batches are not checked', () => {
  const table = new ProducerStateTable(where);
  refuses(
    table,
    header({ producerId: 5, sequence: 8 }),
    'UNKNOWN_PRODUCER_ID',
    /producer 5 is unknown.*sequence 8/,
  );
  assert.deepEqual(table.checkEntry([header({ producerId: 5, sequence: 0 })]), { kind: 'append' });
  assert.deepEqual(table.checkEntry([header({ producerId: -1, sequence: -1 })]), {
    kind: 'append',
  });
  table.record(header({ producerId: -1, sequence: -1 }));
  assert.equal(table.producerCount, 0);
});

test('sequences wrap from 2^31-1 to 0', () => {
  const table = new ProducerStateTable(where);
  table.record(header({ producerId: 3, sequence: 0, records: 5 }));
  table.record(header({ producerId: 3, sequence: 5, records: 0x7fff_fffb }));
  assert.deepEqual(table.checkEntry([header({ producerId: 3, sequence: 0 })]), { kind: 'append' });
});

test('several batches of one entry are checked in order; a mix of retry and new is refused', () => {
  const table = new ProducerStateTable(where);
  const [first] = appendRun(table, 4, 1);
  assert.ok(first);
  assert.deepEqual(
    table.checkEntry([
      header({ producerId: 4, sequence: 2, records: 2 }),
      header({ producerId: 4, sequence: 4 }),
    ]),
    { kind: 'append' },
  );
  assert.throws(
    () =>
      table.checkEntry([
        header({ producerId: 4, sequence: 2 }),
        header({ producerId: 4, sequence: 4 }),
      ]),
    /expected sequence 3, received 4/,
  );
  assert.throws(
    () => table.checkEntry([first, header({ producerId: 4, sequence: 2 })]),
    /mixes retried and new batches/,
  );
});

test('state survives a snapshot round trip and producers expire', () => {
  const table = new ProducerStateTable(where);
  appendRun(table, 11, 3, 50);
  table.record(header({ producerId: 12, sequence: 0, timestampMs: 5000 }));
  const restored = new ProducerStateTable(where);
  assert.equal(restored.load(table.serialize(77)), 77);
  assert.deepEqual(restored.checkEntry([header({ producerId: 11, sequence: 4, records: 2 })]), {
    kind: 'duplicate',
    baseOffset: 54,
    lastOffset: 55,
  });
  assert.equal(restored.load(Buffer.from('{"version":1')), null);
  assert.equal(restored.expire(5500, 1000), 1);
  assert.equal(restored.producerCount, 1);
});
