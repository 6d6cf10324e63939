import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  compatibilityProblems,
  parseAvroSchema,
  parseCompatibilityLevel,
  type CompatibilityLevel,
} from '../../../log/registry/avro-compatibility.js';

function version(n: number, fields: object[]) {
  const text = JSON.stringify({ type: 'record', name: 'R', namespace: 'io.example', fields });
  return { version: n, id: n, type: parseAvroSchema(text).type };
}

const a = { name: 'a', type: 'string' };
const bOptional = { name: 'b', type: ['null', 'long'], default: null };
const bRequired = { name: 'b', type: 'long' };
const cRequired = { name: 'c', type: 'int' };

function compatible(level: CompatibilityLevel, candidate: object[], ...earlier: object[][]) {
  const versions = earlier.map((fields, index) => version(index + 1, fields));
  return compatibilityProblems(level, version(99, candidate).type, versions).length === 0;
}

test('BACKWARD: the new schema reads data of the latest one', () => {
  assert.ok(compatible('BACKWARD', [a, bOptional], [a])); // added with a default
  assert.ok(compatible('BACKWARD', [a], [a, bRequired])); // removed: ignored on read
  assert.ok(!compatible('BACKWARD', [a, bRequired], [a])); // added without a default
  assert.ok(!compatible('BACKWARD', [{ name: 'a', type: 'int' }], [a])); // type change
});

test('FORWARD: the latest schema reads data of the new one', () => {
  assert.ok(compatible('FORWARD', [a, bRequired], [a]));
  assert.ok(!compatible('FORWARD', [], [a, bRequired]));
  assert.ok(compatible('FORWARD', [a], [a, bOptional]));
});

test('FULL needs both directions', () => {
  assert.ok(compatible('FULL', [a, bOptional], [a]));
  assert.ok(!compatible('FULL', [a, bRequired], [a]));
  assert.ok(!compatible('FULL', [], [a, bRequired]));
});

test('transitive levels check every earlier version, plain ones only the latest', () => {
  // v1 needs b, v2 does not: only v2 can read a candidate without b
  const earlier = [[a, bRequired], [a]];
  assert.ok(compatible('FORWARD', [a, cRequired], ...earlier));
  assert.ok(!compatible('FORWARD_TRANSITIVE', [a, cRequired], ...earlier));
  assert.ok(compatible('NONE', [cRequired], ...earlier));
});

test('the canonical form ignores formatting and namespace spelling, not defaults', () => {
  const one = parseAvroSchema(
    '{"type":"record","name":"R","namespace":"io.x","fields":[{"name":"a","type":"string"}]}',
  );
  const two = parseAvroSchema(
    ' { "fields": [ {"type": "string", "name": "a"} ], "name": "io.x.R", "type": "record" } ',
  );
  assert.equal(one.canonical, two.canonical);
  const withDefault = parseAvroSchema(
    '{"type":"record","name":"R","namespace":"io.x","fields":[{"name":"a","type":"string","default":"x"}]}',
  );
  assert.notEqual(withDefault.canonical, one.canonical);
  assert.throws(() => parseAvroSchema('{"type":"record"'), /the schema is not JSON/);
});

test('levels parse case-insensitively', () => {
  assert.equal(parseCompatibilityLevel('full_transitive'), 'FULL_TRANSITIVE');
  assert.equal(parseCompatibilityLevel('SIDEWAYS'), undefined);
  assert.equal(parseCompatibilityLevel(3), undefined);
});
