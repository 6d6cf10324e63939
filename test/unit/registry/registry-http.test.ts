import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { createSchemaRegistryApp } from '../../../log/registry/schema-registry.js';

const dataDir = await mkdtemp(path.join(os.tmpdir(), 'extentlog-registry-http-'));
const registry = await createSchemaRegistryApp({ dataDir });
after(async () => {
  await registry.close();
  await rm(dataDir, { recursive: true, force: true });
});

const CONTENT_TYPE = 'application/vnd.schemaregistry.v1+json';

function record(name: string, fields: object[]): string {
  return JSON.stringify({ type: 'record', name, namespace: 'io.example', fields });
}
const v1 = record('Thing', [{ name: 'a', type: 'string' }]);
const v2 = record('Thing', [
  { name: 'a', type: 'string' },
  { name: 'b', type: ['null', 'long'], default: null },
]);
const breaking = record('Thing', [{ name: 'c', type: 'long' }]);

async function call(method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, body?: unknown) {
  const response = await registry.app.inject({
    method,
    url,
    ...(body === undefined
      ? {}
      : {
          headers: { 'content-type': CONTENT_TYPE },
          payload: typeof body === 'string' ? body : JSON.stringify(body),
        }),
  });
  assert.match(
    String(response.headers['content-type']),
    /^application\/vnd\.schemaregistry\.v1\+json/,
  );
  return { status: response.statusCode, body: response.json() as unknown };
}

async function expectError(
  method: 'GET' | 'POST' | 'PUT' | 'DELETE',
  url: string,
  body: unknown,
  status: number,
  errorCode: number,
  message: RegExp,
) {
  const answer = await call(method, url, body);
  assert.equal(answer.status, status, JSON.stringify(answer.body));
  const { error_code, message: text } = answer.body as { error_code: number; message: string };
  assert.equal(error_code, errorCode);
  assert.match(text, message);
}

test('register, re-register, read back by id, subject and version', async () => {
  const first = await call('POST', '/subjects/things-value/versions', { schema: v1 });
  assert.deepEqual(first, { status: 200, body: { id: 1 } });
  // the same schema spelled differently is the same schema
  const respelled = JSON.stringify({
    name: 'io.example.Thing',
    fields: [{ type: 'string', name: 'a' }],
    type: 'record',
  });
  assert.deepEqual(
    await call('POST', '/subjects/things-value/versions', {
      schema: respelled,
      schemaType: 'AVRO',
    }),
    first,
  );
  // the same schema under another subject keeps its global id
  assert.deepEqual(await call('POST', '/subjects/other-value/versions', { schema: v1 }), first);
  const second = await call('POST', '/subjects/things-value/versions', { schema: v2 });
  assert.deepEqual(second, { status: 200, body: { id: 2 } });

  const byId = (await call('GET', '/schemas/ids/2')).body as { schema: string };
  assert.deepEqual(JSON.parse(byId.schema), {
    name: 'io.example.Thing',
    type: 'record',
    fields: [
      { name: 'a', type: 'string' },
      { name: 'b', type: ['null', 'long'], default: null },
    ],
  });
  assert.deepEqual((await call('GET', '/subjects')).body, ['other-value', 'things-value']);
  assert.deepEqual((await call('GET', '/subjects/things-value/versions')).body, [1, 2]);
  const latest = (await call('GET', '/subjects/things-value/versions/latest')).body;
  assert.deepEqual(latest, { subject: 'things-value', id: 2, version: 2, schema: byId.schema });
  assert.deepEqual((await call('GET', '/subjects/things-value/versions/1')).body, {
    subject: 'things-value',
    id: 1,
    version: 1,
    schema: ((await call('GET', '/schemas/ids/1')).body as { schema: string }).schema,
  });
  assert.deepEqual((await call('POST', '/subjects/things-value', { schema: v1 })).body, {
    subject: 'things-value',
    id: 1,
    version: 1,
    schema: ((await call('GET', '/schemas/ids/1')).body as { schema: string }).schema,
  });
  assert.deepEqual((await call('GET', '/schemas/ids/1/versions')).body, [
    { subject: 'other-value', version: 1 },
    { subject: 'things-value', version: 1 },
  ]);
  assert.deepEqual((await call('GET', '/schemas/types')).body, ['AVRO']);
});

test('not-found answers carry Confluent error codes', async () => {
  await expectError(
    'GET',
    '/subjects/nobody/versions',
    undefined,
    404,
    40401,
    /Subject 'nobody' not found/,
  );
  await expectError('GET', '/subjects/nobody/versions/latest', undefined, 404, 40401, /not found/);
  await expectError(
    'GET',
    '/subjects/things-value/versions/99',
    undefined,
    404,
    40402,
    /Version 99 not found/,
  );
  await expectError('GET', '/schemas/ids/999', undefined, 404, 40403, /Schema 999 not found/);
  await expectError(
    'POST',
    '/subjects/things-value',
    { schema: record('Unknown', [{ name: 'x', type: 'int' }]) },
    404,
    40403,
    /Schema not found/,
  );
  await expectError(
    'POST',
    '/subjects/nobody',
    { schema: v1 },
    404,
    40401,
    /Subject 'nobody' not found/,
  );
  await expectError(
    'GET',
    '/config/things-value',
    undefined,
    404,
    40408,
    /does not have subject-level compatibility/,
  );
  await expectError('GET', '/no/such/route', undefined, 404, 404, /HTTP 404 Not Found/);
});

test('invalid input is answered 400/422 naming what is wrong', async () => {
  await expectError(
    'POST',
    '/subjects/bad-value/versions',
    { schema: '{"type":"record"' },
    422,
    42201,
    /Invalid schema: the schema is not JSON/,
  );
  await expectError(
    'POST',
    '/subjects/bad-value/versions',
    { schema: '{"type":"recrd","name":"x"}' },
    422,
    42201,
    /Invalid schema: .*recrd/,
  );
  await expectError(
    'POST',
    '/subjects/bad-value/versions',
    { schema: v1, schemaType: 'PROTOBUF' },
    422,
    42201,
    /schemaType PROTOBUF is not supported/,
  );
  await expectError(
    'POST',
    '/subjects/bad-value/versions',
    { schema: v1, references: [{ name: 'x', subject: 'y', version: 1 }] },
    422,
    42201,
    /references are not supported/,
  );
  await expectError(
    'POST',
    '/subjects/bad-value/versions',
    { schemaa: v1 },
    422,
    422,
    /body must have required property 'schema'/,
  );
  await expectError(
    'POST',
    '/subjects/bad-value/versions',
    { schema: '' },
    422,
    422,
    /body\/schema must NOT have fewer than 1 characters/,
  );
  await expectError('POST', '/subjects/bad-value/versions', '{"schema": ', 400, 400, /JSON/);
  await expectError(
    'GET',
    '/subjects/things-value/versions/0',
    undefined,
    422,
    42202,
    /version '0' is not a valid version id/,
  );
  await expectError(
    'GET',
    '/subjects/things-value/versions/two',
    undefined,
    422,
    42202,
    /version 'two'/,
  );
  await expectError('GET', '/schemas/ids/abc', undefined, 422, 422, /params\/id must be integer/);
  await expectError(
    'PUT',
    '/config',
    { compatibility: 'SIDEWAYS' },
    422,
    42203,
    /Invalid compatibility level "SIDEWAYS"/,
  );
  await expectError(
    'PUT',
    '/config/things-value',
    {},
    422,
    422,
    /body must have required property 'compatibility'/,
  );
  const plain = await registry.app.inject({
    method: 'POST',
    url: '/subjects/bad-value/versions',
    headers: { 'content-type': 'application/xml' },
    payload: v1,
  });
  assert.equal(plain.statusCode, 415);
  assert.equal(plain.json<{ error_code: number }>().error_code, 415);
});

test('incompatible schemas are refused with 409 and compatibility can be tested first', async () => {
  await expectError(
    'POST',
    '/subjects/things-value/versions',
    { schema: breaking },
    409,
    409,
    /incompatible with an earlier schema for subject "things-value" \(compatibility BACKWARD\).*READER_CANNOT_READ_OLD/,
  );
  assert.deepEqual(
    (
      await call('POST', '/compatibility/subjects/things-value/versions/latest', {
        schema: breaking,
      })
    ).body,
    { is_compatible: false },
  );
  const verbose = (
    await call('POST', '/compatibility/subjects/things-value/versions/latest?verbose=true', {
      schema: breaking,
    })
  ).body as { is_compatible: boolean; messages: string[] };
  assert.equal(verbose.is_compatible, false);
  assert.match(verbose.messages[0] ?? '', /version 2 \(id 2\)/);
  assert.deepEqual(
    (await call('POST', '/compatibility/subjects/things-value/versions/1', { schema: v2 })).body,
    { is_compatible: true },
  );
  await expectError(
    'POST',
    '/compatibility/subjects/nobody/versions/latest',
    { schema: v1 },
    404,
    40401,
    /not found/,
  );
  assert.deepEqual(
    (await call('POST', '/compatibility/subjects/nobody/versions', { schema: v1 })).body,
    { is_compatible: true },
  );
});

test('compatibility levels are set globally and per subject', async () => {
  assert.deepEqual((await call('GET', '/config')).body, { compatibilityLevel: 'BACKWARD' });
  assert.deepEqual((await call('PUT', '/config/things-value', { compatibility: 'none' })).body, {
    compatibility: 'NONE',
  });
  assert.deepEqual((await call('GET', '/config/things-value')).body, {
    compatibilityLevel: 'NONE',
  });
  assert.deepEqual((await call('GET', '/config/other-value?defaultToGlobal=true')).body, {
    compatibilityLevel: 'BACKWARD',
  });
  const accepted = await call('POST', '/subjects/things-value/versions', { schema: breaking });
  assert.deepEqual(accepted, { status: 200, body: { id: 3 } });
  assert.deepEqual((await call('DELETE', '/config/things-value')).body, {
    compatibilityLevel: 'NONE',
  });
  await expectError('GET', '/config/things-value', undefined, 404, 40408, /subject-level/);
  assert.deepEqual((await call('PUT', '/config', { compatibility: 'FULL_TRANSITIVE' })).body, {
    compatibility: 'FULL_TRANSITIVE',
  });
  assert.deepEqual((await call('GET', '/config')).body, { compatibilityLevel: 'FULL_TRANSITIVE' });
  assert.deepEqual((await call('PUT', '/config', { compatibility: 'BACKWARD' })).body, {
    compatibility: 'BACKWARD',
  });
});

test('subjects and versions are soft-deleted, then permanently', async () => {
  await call('POST', '/subjects/gone-value/versions', { schema: v1 });
  await call('POST', '/subjects/gone-value/versions', { schema: v2 });
  await expectError(
    'DELETE',
    '/subjects/gone-value?permanent=true',
    undefined,
    404,
    40405,
    /was not deleted first/,
  );
  await expectError(
    'DELETE',
    '/subjects/gone-value/versions/1?permanent=true',
    undefined,
    404,
    40407,
    /Version 1 was not deleted first/,
  );
  assert.deepEqual((await call('DELETE', '/subjects/gone-value/versions/1')).body, 1);
  await expectError(
    'DELETE',
    '/subjects/gone-value/versions/1',
    undefined,
    404,
    40406,
    /Version 1 was soft deleted/,
  );
  assert.deepEqual((await call('GET', '/subjects/gone-value/versions')).body, [2]);
  assert.deepEqual((await call('GET', '/subjects/gone-value/versions?deleted=true')).body, [1, 2]);
  assert.deepEqual((await call('DELETE', '/subjects/gone-value')).body, [2]);
  await expectError('DELETE', '/subjects/gone-value', undefined, 404, 40404, /was soft deleted/);
  assert.ok(!((await call('GET', '/subjects')).body as string[]).includes('gone-value'));
  assert.ok(
    ((await call('GET', '/subjects?deleted=true')).body as string[]).includes('gone-value'),
  );
  assert.deepEqual((await call('DELETE', '/subjects/gone-value?permanent=true')).body, [1, 2]);
  await expectError(
    'GET',
    '/subjects/gone-value/versions?deleted=true',
    undefined,
    404,
    40401,
    /not found/,
  );
  // re-registering after deletion starts the subject over, with the schema's old id
  assert.deepEqual((await call('POST', '/subjects/gone-value/versions', { schema: v2 })).body, {
    id: 2,
  });
  assert.deepEqual((await call('GET', '/subjects/gone-value/versions')).body, [1]);
});

test('concurrent registrations of one new schema make one version with one id', async () => {
  const schema = record('Raced', [{ name: 'a', type: 'string' }]);
  const answers = await Promise.all(
    Array.from({ length: 8 }, () => call('POST', '/subjects/raced-value/versions', { schema })),
  );
  const ids = new Set(answers.map(({ body }) => (body as { id: number }).id));
  assert.equal(ids.size, 1);
  assert.deepEqual((await call('GET', '/subjects/raced-value/versions')).body, [1]);
});
