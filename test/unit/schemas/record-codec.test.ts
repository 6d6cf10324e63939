import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import type avro from 'avsc';
import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import { parseAvroType } from '../../../schemas/avro-types.js';
import { SchemaError, type SchemaErrorCode } from '../../../schemas/errors.js';
import {
  createRecordCodec,
  EXTENT_RECORD_SCHEMA,
  type RecordCodec,
} from '../../../schemas/record-codec.js';
import { valueSubject } from '../../../schemas/subject-name.js';
import { sampleRecords, writeExtent, zeroExtent } from '../../support/sample-records.js';
import { startTestRegistry, type TestRegistry } from '../../support/test-registry.js';

const subject = valueSubject('test.feed-a.extents');

function rejectsWith(code: SchemaErrorCode, pattern: RegExp) {
  return (error: unknown) => {
    assert.ok(error instanceof SchemaError, `expected a SchemaError, received ${String(error)}`);
    assert.equal(error.code, code, error.message);
    assert.match(error.message, pattern);
    return true;
  };
}

/** Frames an Avro body written independently of the codec (avsc with bigint longs). */
function handFrame(schemaId: number, branch: number, fields: Record<string, unknown>): Buffer {
  const type = (parseAvroType(EXTENT_RECORD_SCHEMA) as avro.types.WrappedUnionType).types[branch];
  const body = (type as avro.Type).toBuffer(fields);
  const header = Buffer.alloc(6);
  header.writeInt32BE(schemaId, 1);
  header[5] = branch * 2;
  return Buffer.concat([header, body]);
}

const extentFields = {
  feed: 'f',
  disk: 'd',
  epoch: 1n,
  seq: 2n,
  offsetBytes: 0n,
  lengthBytes: 0n,
  op: 'ZERO',
  crc32c: 0n,
  issuedAtNs: 0n,
  completedAtNs: 0n,
  provenance: { changeId: null, snapshotId: null, journalSeq: null },
  data: null,
};

const registry: TestRegistry = await startTestRegistry(after);
const producer: RecordCodec = createRecordCodec({ registry: registry.client(), subject });
const schemaId = await producer.register();
const consumer: RecordCodec = createRecordCodec({ registry: registry.client(), subject });

describe('record codec', () => {
  test('register is idempotent and returns the same id', async () => {
    assert.equal(await producer.register(), schemaId);
    assert.equal(producer.schemaId, schemaId);
    const other = createRecordCodec({ registry: registry.client(), subject });
    assert.equal(await other.register(), schemaId);
  });

  test('every record type round-trips, edge values included, through a fresh consumer', async () => {
    for (const record of sampleRecords()) {
      const frame = producer.encode(record);
      assert.equal(frame[0], 0);
      assert.equal(frame.readInt32BE(1), schemaId);
      assert.deepEqual(await consumer.decode(frame), record, `${record.type} seq ${record.seq}`);
    }
  });

  test('WRITE data is the last bytes of the frame and decodes as a view of it', async () => {
    const data = Buffer.alloc(512 * 1024, 0xab);
    const frame = producer.encode(writeExtent({ data }));
    assert.ok(frame.subarray(frame.length - data.length).equals(data));
    const decoded = await consumer.decode(frame);
    assert.equal(decoded.type, 'extent');
    const view = decoded.type === 'extent' ? decoded.data : null;
    assert.ok(view !== null && view.equals(data));
    assert.equal(view.buffer, frame.buffer, 'data shares the memory of the frame');
    assert.equal(view.byteOffset, frame.byteOffset + frame.length - data.length);
  });

  test('encode before register is refused', () => {
    const fresh = createRecordCodec({ registry: registry.client(), subject });
    assert.throws(
      () => fresh.encode(writeExtent()),
      rejectsWith('EXTENTLOG_ERR_SCHEMA_NOT_REGISTERED', /call register\(\) once/),
    );
  });

  test('encode refuses records that break the contract, naming the field', () => {
    const cases: [Parameters<RecordCodec['encode']>[0], SchemaErrorCode, RegExp][] = [
      [
        writeExtent({ offsetBytes: 2 ** 53 }),
        'EXTENTLOG_ERR_SCHEMA_UNSAFE_INTEGER',
        /field offsetBytes: expected a non-negative safe integer .* received 9007199254740992/,
      ],
      [
        writeExtent({ seq: -1, crc32c: 0 }),
        'EXTENTLOG_ERR_SCHEMA_UNSAFE_INTEGER',
        /field seq: .*received -1/,
      ],
      [
        writeExtent({ lengthBytes: 1.5 }),
        'EXTENTLOG_ERR_SCHEMA_UNSAFE_INTEGER',
        /field lengthBytes/,
      ],
      [
        writeExtent({ crc32c: 2 ** 32 }),
        'EXTENTLOG_ERR_SCHEMA_INVALID_RECORD',
        /field crc32c: expected an unsigned 32-bit value/,
      ],
      [
        writeExtent({ issuedAtNs: 2n ** 63n }),
        'EXTENTLOG_ERR_SCHEMA_INVALID_RECORD',
        /field issuedAtNs: expected a bigint in the signed 64-bit range/,
      ],
      [
        writeExtent({ lengthBytes: 5 }),
        'EXTENTLOG_ERR_SCHEMA_INVALID_RECORD',
        /field data: expected lengthBytes \(5\) bytes of data for a WRITE, received 21 bytes/,
      ],
      [
        writeExtent({ data: null }),
        'EXTENTLOG_ERR_SCHEMA_INVALID_RECORD',
        /field data: .*received none/,
      ],
      [
        zeroExtent({ data: Buffer.alloc(4) }),
        'EXTENTLOG_ERR_SCHEMA_INVALID_RECORD',
        /field data: expected no data for a ZERO, received 4 bytes/,
      ],
      [
        writeExtent({ op: 'TRIM' as 'ZERO' }),
        'EXTENTLOG_ERR_SCHEMA_INVALID_RECORD',
        /field op: expected one of WRITE, ZERO, DISCARD, received "TRIM"/,
      ],
    ];
    for (const [record, code, pattern] of cases)
      assert.throws(() => producer.encode(record), rejectsWith(code, pattern));
  });

  test('frames too short or without the magic byte are refused with their position', async () => {
    await assert.rejects(
      consumer.decode(Buffer.from([0, 0, 0])),
      rejectsWith('EXTENTLOG_ERR_SCHEMA_SHORT_FRAME', /expected at least 5 bytes .* received 3/),
    );
    const frame = producer.encode(writeExtent());
    frame[0] = 1;
    await assert.rejects(
      consumer.decode(frame),
      rejectsWith(
        'EXTENTLOG_ERR_SCHEMA_BAD_MAGIC',
        /expected magic byte 0 at byte 0, received 0x01/,
      ),
    );
  });

  test('an unknown schema id is refused as such (registry 40403)', async () => {
    const frame = producer.encode(writeExtent());
    frame.writeInt32BE(4242, 1);
    await assert.rejects(
      consumer.decode(frame),
      rejectsWith(
        'EXTENTLOG_ERR_SCHEMA_UNKNOWN_SCHEMA_ID',
        /expected schema id 4242 .* received 404/,
      ),
    );
  });

  test('truncated bodies and trailing bytes are refused with their position', async () => {
    const frame = producer.encode(writeExtent());
    await assert.rejects(
      consumer.decode(frame.subarray(0, frame.length - 1)),
      rejectsWith(
        'EXTENTLOG_ERR_SCHEMA_TRUNCATED_BODY',
        new RegExp(`at byte ${frame.length - 1}: expected more bytes for field data`),
      ),
    );
    await assert.rejects(
      consumer.decode(frame.subarray(0, 5)),
      rejectsWith('EXTENTLOG_ERR_SCHEMA_TRUNCATED_BODY', /union branch index at byte 5/),
    );
    await assert.rejects(
      consumer.decode(Buffer.concat([frame, Buffer.from([0, 0])])),
      rejectsWith(
        'EXTENTLOG_ERR_SCHEMA_TRAILING_BYTES',
        new RegExp(`at byte ${frame.length}: .*received 2 more bytes`),
      ),
    );
  });

  test('union and enum indexes out of range are refused with their position', async () => {
    const frame = producer.encode(
      zeroExtent({ feed: 'f', disk: 'd', epoch: 1, seq: 2, offsetBytes: 0, lengthBytes: 0 }),
    );
    const badRecord = Buffer.from(frame);
    badRecord[5] = 8; // zigzag 4: a fifth record type
    await assert.rejects(
      consumer.decode(badRecord),
      rejectsWith(
        'EXTENTLOG_ERR_SCHEMA_BAD_UNION_INDEX',
        /at byte 5: expected a record index 0 … 3 .* received 4/,
      ),
    );
    const badData = Buffer.from(frame);
    badData[badData.length - 1] = 6; // data: ["null","bytes"] has no branch 3
    await assert.rejects(
      consumer.decode(badData),
      rejectsWith(
        'EXTENTLOG_ERR_SCHEMA_BAD_UNION_INDEX',
        new RegExp(
          `at byte ${frame.length - 1}: expected a union branch index 0 … 1 for field data .* received 3`,
        ),
      ),
    );
    // magic, id, branch, "f", "d", epoch, seq, offsetBytes, lengthBytes: op is byte 14
    const badOp = Buffer.from(frame);
    assert.equal(badOp[14], 2, 'op ZERO is index 1 (zigzag 2)');
    badOp[14] = 10;
    await assert.rejects(
      consumer.decode(badOp),
      rejectsWith(
        'EXTENTLOG_ERR_SCHEMA_BAD_ENUM_INDEX',
        /at byte 14: expected an enum index 0 … 2 for field op \(WRITE, ZERO, DISCARD\), received 5/,
      ),
    );
  });

  test('a negative length is refused as a corrupt body', async () => {
    const frame = producer.encode(zeroExtent({ feed: 'f', disk: 'd' }));
    frame[6] = 1; // feed length: zigzag 1 = -1
    await assert.rejects(
      consumer.decode(frame),
      rejectsWith(
        'EXTENTLOG_ERR_SCHEMA_CORRUPT_BODY',
        /at byte 6: expected a length ≥ 0 for field feed, received -1/,
      ),
    );
  });

  test('decoded longs that are not safe integers are refused, naming field and position', async () => {
    const tooFar = handFrame(schemaId, 0, { ...extentFields, offsetBytes: 2n ** 53n });
    await assert.rejects(
      consumer.decode(tooFar),
      rejectsWith(
        'EXTENTLOG_ERR_SCHEMA_UNSAFE_INTEGER',
        /field offsetBytes at byte 12: expected a non-negative safe integer .* received 9007199254740992/,
      ),
    );
    const negative = handFrame(schemaId, 0, { ...extentFields, seq: -5n });
    await assert.rejects(
      consumer.decode(negative),
      rejectsWith('EXTENTLOG_ERR_SCHEMA_UNSAFE_INTEGER', /field seq at byte 11: .*received -5/),
    );
    const wideCrc = handFrame(schemaId, 0, { ...extentFields, crc32c: 2n ** 32n });
    await assert.rejects(
      consumer.decode(wideCrc),
      rejectsWith(
        'EXTENTLOG_ERR_SCHEMA_INVALID_RECORD',
        /field crc32c at byte 15: expected an unsigned 32-bit value/,
      ),
    );
    const zeroWithData = handFrame(schemaId, 0, { ...extentFields, data: Buffer.from('x') });
    await assert.rejects(
      consumer.decode(zeroWithData),
      rejectsWith(
        'EXTENTLOG_ERR_SCHEMA_INVALID_RECORD',
        /field data at byte \d+: expected no data for a ZERO, received 1 bytes/,
      ),
    );
  });

  test('known writer schemas are cached: frames decode after the registry stops', async (t) => {
    const local = await startTestRegistry((fn) => t.after(fn));
    const writer = createRecordCodec({ registry: local.client(), subject });
    await writer.register();
    const reader = createRecordCodec({ registry: local.client(), subject });
    const frame = writer.encode(writeExtent());
    await reader.decode(frame);
    await local.running.close();
    assert.deepEqual(await reader.decode(frame), writeExtent());
    await local.restart();
  });

  test('an unreachable registry is a retriable error naming its URL', async (t) => {
    const local = await startTestRegistry((fn) => t.after(fn));
    const url = local.url;
    await local.running.close();
    const unreachable = createRecordCodec({
      registry: new SchemaRegistry({ host: url, retry: { retries: 0 } }),
      subject,
    });
    const frame = producer.encode(writeExtent());
    await assert.rejects(unreachable.decode(frame), (error: unknown) => {
      assert.ok(error instanceof SchemaError);
      assert.equal(error.code, 'EXTENTLOG_ERR_SCHEMA_REGISTRY_UNREACHABLE');
      assert.equal(error.retriable, true);
      assert.ok(error.message.includes(url), error.message);
      return true;
    });
    await assert.rejects(
      unreachable.register(),
      rejectsWith(
        'EXTENTLOG_ERR_SCHEMA_REGISTRY_UNREACHABLE',
        /register the extent record schema under subject/,
      ),
    );
    await local.restart();
  });

  test('registering under a subject that holds an incompatible schema names the subject', async () => {
    const taken = 'test.incompatible.extents-value';
    await registry.client().register(
      {
        type: 'record',
        name: 'Other',
        namespace: 'io.example',
        fields: [{ name: 'a', type: 'string' }],
      },
      { subject: taken },
    );
    const codec = createRecordCodec({ registry: registry.client(), subject: taken });
    await assert.rejects(
      codec.register(),
      rejectsWith(
        'EXTENTLOG_ERR_SCHEMA_INCOMPATIBLE',
        /subject test\.incompatible\.extents-value as incompatible: Schema being registered is incompatible/,
      ),
    );
  });
});
