/**
 * Conformance with independent implementations (Debian python3-confluent-kafka's Schema
 * Registry client, python3-avro, the Apache Avro reference library): they drive the
 * embedded registry and decode frames written by our codec.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { ExtentlogRecord } from '../../../schemas/extentlog-record.js';
import { createRecordCodec } from '../../../schemas/record-codec.js';
import { sampleRecords } from '../../support/sample-records.js';
import { startTestRegistry } from '../../support/test-registry.js';

const run = promisify(execFile);
// dist/test/integration/registry → the sources, where the Python scripts live
const scriptsDir = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '../../../../test/integration/registry',
);
const python = '/usr/bin/python3';

const registry = await startTestRegistry(after);
const workDir = await mkdtemp(path.join(os.tmpdir(), 'extentlog-python-clients-'));
after(() => rm(workDir, { recursive: true, force: true }));

async function python3(script: string, ...args: string[]): Promise<string> {
  const { stdout } = await run(python, [path.join(scriptsDir, script), ...args], {
    timeout: 60_000,
  });
  return stdout;
}

/** What Apache Avro decodes for a record: longs as strings, bytes as hex, no `type`. */
function asDecodedByPython(record: ExtentlogRecord): Record<string, unknown> {
  const plain = (value: unknown): unknown => {
    if (typeof value === 'number' || typeof value === 'bigint') return String(value);
    if (Buffer.isBuffer(value)) return value.toString('hex');
    if (value !== null && typeof value === 'object')
      return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, plain(item)]));
    return value;
  };
  const { type: _type, ...fields } = record;
  return plain(fields) as Record<string, unknown>;
}

const BRANCHES: Record<ExtentlogRecord['type'], string> = {
  extent: 'io.extentlog.Extent',
  'sync-begin': 'io.extentlog.SyncBegin',
  'sync-commit': 'io.extentlog.SyncCommit',
  heartbeat: 'io.extentlog.Heartbeat',
};

test('Apache Avro decodes our frames with the writer schema fetched from our registry', async () => {
  const codec = createRecordCodec({
    registry: registry.client(),
    subject: 'py.feed.extents-value',
  });
  const schemaId = await codec.register();
  const records = sampleRecords();
  const framesFile = path.join(workDir, 'frames.hex');
  await writeFile(
    framesFile,
    records.map((record) => codec.encode(record).toString('hex')).join('\n'),
  );
  const decoded = (await python3('read-frames.py', registry.url, framesFile))
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as { schemaId: number; branch: string; record: unknown });
  assert.equal(decoded.length, records.length);
  records.forEach((record, index) => {
    assert.deepEqual(decoded[index], {
      schemaId,
      branch: BRANCHES[record.type],
      record: asDecodedByPython(record),
    });
  });
});

test("confluent-kafka-python's registry client gets Confluent's answers", async () => {
  const seen = JSON.parse(
    await python3('registry-api.py', registry.url, 'py.things-value'),
  ) as Record<string, unknown>;
  assert.equal(seen.v1Again, seen.v1);
  assert.equal(seen.lookupVersion, 1);
  assert.equal(seen.breakingCompatible, false);
  assert.deepEqual(seen.breaking, { status: 409, code: 409 });
  assert.notEqual(seen.v2, seen.v1);
  assert.deepEqual(seen.latest, { id: seen.v2, version: 2 });
  assert.deepEqual(seen.versions, [1, 2]);
  assert.equal(seen.fetched, 'io.example.Py');
  assert.deepEqual(seen.setLevel, { compatibility: 'FULL' });
  assert.equal(seen.level, 'FULL');
  assert.deepEqual(seen.deleted, [1, 2]);
  assert.deepEqual(seen.afterDelete, { status: 404, code: 40401 });
});
