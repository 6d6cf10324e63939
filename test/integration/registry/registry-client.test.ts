/**
 * The embedded registry driven by the real `@kafkajs/confluent-schema-registry` client over
 * HTTP, as producers and consumers use it.
 */
import assert from 'node:assert/strict';
import { appendFile } from 'node:fs/promises';
import path from 'node:path';
import { after, test } from 'node:test';
import { COMPATIBILITY, SchemaType } from '@kafkajs/confluent-schema-registry';
import { REGISTRY_JOURNAL_FILE } from '../../../log/registry/schema-registry.js';
import { createRecordCodec } from '../../../schemas/record-codec.js';
import { sampleRecords } from '../../support/sample-records.js';
import { startTestRegistry } from '../../support/test-registry.js';

const registry = await startTestRegistry(after);
const subject = 'test.things-value';

const v1 = {
  type: 'record' as const,
  name: 'Thing',
  namespace: 'io.example',
  fields: [{ name: 'a', type: 'string' }],
};
const v2 = {
  ...v1,
  fields: [...v1.fields, { name: 'b', type: ['null', 'long'], default: null }],
};
const breaking = { ...v1, fields: [{ name: 'a', type: 'int' }] };

let v1Id = 0;
let v2Id = 0;

test('register, idempotent re-register, lookups by id, subject and schema', async () => {
  const client = registry.client();
  v1Id = (await client.register(v1, { subject })).id;
  assert.equal((await client.register(v1, { subject })).id, v1Id);
  assert.equal((await registry.client().register(v1, { subject })).id, v1Id);

  const fresh = registry.client();
  const type = (await fresh.getSchema(v1Id)) as unknown as { name: string };
  assert.equal(type.name, 'io.example.Thing');
  assert.equal(await fresh.getRegistryIdBySchema(subject, v1), v1Id);
  assert.equal(await fresh.getLatestSchemaId(subject), v1Id);
  assert.equal(await fresh.getRegistryId(subject, 1), v1Id);
  const encoded = await client.encode(v1Id, { a: 'hello' });
  assert.deepEqual({ ...(await fresh.decode(encoded)) }, { a: 'hello' });
});

test('an incompatible schema is refused with 409; a compatible evolution is accepted', async () => {
  const client = registry.client();
  await assert.rejects(client.register(breaking, { subject }), (error: unknown) => {
    const { status, message } = error as { status?: number; message: string };
    assert.equal(status, 409);
    assert.match(message, /incompatible with an earlier schema for subject "test\.things-value"/);
    return true;
  });
  v2Id = (await client.register(v2, { subject })).id;
  assert.notEqual(v2Id, v1Id);
  const oldData = await client.encode(v1Id, { a: 'old' });
  const read = await registry.client().decode(oldData, { [SchemaType.AVRO]: { readerSchema: v2 } });
  assert.deepEqual({ ...read }, { a: 'old', b: null });
  await assert.rejects(
    client.register(v1, { subject, compatibility: COMPATIBILITY.FULL }),
    /Compatibility does not match the configuration \(FULL != BACKWARD\)/,
  );
});

test('ids, versions and levels survive a restart, also after a torn journal write', async () => {
  assert.ok(v2Id > 0, 'runs after the evolution test');
  const codec = createRecordCodec({
    registry: registry.client(),
    subject: 'test.feed.extents-value',
  });
  const unionId = await codec.register();
  const frames = sampleRecords().map((record) => codec.encode(record));

  await appendFile(
    path.join(registry.dataDir, REGISTRY_JOURNAL_FILE),
    Buffer.from([0, 0, 1, 0, 7]),
  );
  await registry.restart();

  const client = registry.client();
  assert.equal(await client.getLatestSchemaId(subject), v2Id);
  assert.equal(await client.getRegistryId(subject, 1), v1Id);
  assert.equal((await client.register(v1, { subject })).id, v1Id);
  assert.equal(
    ((await client.getSchema(v2Id)) as unknown as { name: string }).name,
    'io.example.Thing',
  );
  const reader = createRecordCodec({ registry: client, subject: 'test.feed.extents-value' });
  assert.deepEqual(await Promise.all(frames.map((frame) => reader.decode(frame))), sampleRecords());
  assert.equal(await reader.register(), unionId);

  const config = await fetch(`${registry.url}/config/${subject}`);
  assert.deepEqual(await config.json(), { compatibilityLevel: 'BACKWARD' });
  const another = { ...v1, name: 'Another' };
  const next = (await client.register(another, { subject: 'test.another-value' })).id;
  assert.ok(next > unionId, `new ids continue after the restart (${next} > ${unionId})`);
});
