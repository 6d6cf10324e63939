import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import avro from 'avsc';
import { createAvroCodec } from '../../../schemas/avro-codec.js';
import { createRecordCodec, EXTENT_RECORD_SCHEMA } from '../../../schemas/record-codec.js';
import { writeExtent } from '../../support/sample-records.js';
import { startTestRegistry } from '../../support/test-registry.js';

/**
 * v2 of the extent-record schema as a later release could write it: Extent gains an
 * optional field (before data, which stays last).
 */
function extentSchemaV2(): avro.Schema {
  const union = structuredClone(EXTENT_RECORD_SCHEMA) as avro.schema.RecordType[];
  const extent = union[0] as avro.schema.RecordType;
  extent.fields.splice(extent.fields.length - 1, 0, {
    name: 'compression',
    type: ['null', 'string'],
    default: null,
  });
  return union as unknown as avro.Schema;
}

const registry = await startTestRegistry(after);
const subject = 'test.evolution.extents-value';

async function registerRaw(schema: avro.Schema): Promise<number> {
  const response = await fetch(`${registry.url}/subjects/${subject}/versions`, {
    method: 'POST',
    headers: { 'content-type': 'application/vnd.schemaregistry.v1+json' },
    body: JSON.stringify({ schema: JSON.stringify(schema) }),
  });
  assert.equal(response.status, 200, await response.clone().text());
  return ((await response.json()) as { id: number }).id;
}

const v1 = createRecordCodec({ registry: registry.client(), subject });
const v1Id = await v1.register();
const v2Id = await registerRaw(extentSchemaV2());

/** A reader built on the v2 schema that returns the decoded Avro fields as they are. */
const v2Reader = createAvroCodec(
  {
    label: 'extent record v2',
    schema: extentSchemaV2(),
    toAvro: () => {
      throw new Error('read-only');
    },
    fromAvro: (branch, fields) => ({ branch, fields }),
    describe: () => 'v2',
  },
  { registry: registry.client(), subject },
);

/** A v2 frame written with plain avsc, independent of our codec. */
function v2Frame(compression: string | null): { frame: Buffer; data: Buffer } {
  const data = Buffer.from('written by a newer producer');
  const extent = (avro.Type.forSchema(extentSchemaV2()) as avro.types.WrappedUnionType).types[0];
  const reference = writeExtent({ data });
  const body = (extent as avro.Type).toBuffer({
    ...reference,
    // plain avsc reads and writes longs as numbers
    issuedAtNs: 1_000_000,
    completedAtNs: 2_000_000,
    provenance: { changeId: null, snapshotId: 'snap', journalSeq: null },
    compression,
  });
  const header = Buffer.from([0, 0, 0, 0, 0, 0]);
  header.writeInt32BE(v2Id, 1);
  return { frame: Buffer.concat([header, body]), data };
}

test('the registry accepts v2 as a BACKWARD-compatible evolution with a new id', () => {
  assert.notEqual(v2Id, v1Id);
});

test('the current reader decodes v2 frames, ignoring the field it does not know', async () => {
  const { frame, data } = v2Frame('lz4');
  const decoded = await v1.decode(frame);
  assert.equal(decoded.type, 'extent');
  assert.ok(decoded.type === 'extent');
  assert.deepEqual(decoded, {
    ...writeExtent({ data }),
    issuedAtNs: 1_000_000n,
    completedAtNs: 2_000_000n,
    provenance: { changeId: null, snapshotId: 'snap', journalSeq: null },
  });
  assert.ok(!('compression' in decoded));
  assert.equal(decoded.data?.buffer, frame.buffer, 'data is still a view of the frame');
});

test('a v2 reader decodes v1 frames, getting the default for the new field', async () => {
  const record = writeExtent();
  const decoded = (await v2Reader.decode(v1.encode(record))) as {
    branch: string;
    fields: Record<string, unknown>;
  };
  assert.equal(decoded.branch, 'io.extentlog.Extent');
  assert.equal(decoded.fields.compression, null);
  assert.equal(decoded.fields.seq, BigInt(record.seq));
  assert.ok((decoded.fields.data as Buffer).equals(record.data as Buffer));
  const own = (await v2Reader.decode(v2Frame('zstd').frame)) as { fields: Record<string, unknown> };
  assert.equal(own.fields.compression, 'zstd');
});
