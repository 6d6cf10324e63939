/**
 * The S3 target's formats: bucket keys for awkward disk ids, the chunk map, manifests and
 * journals (round trip and the errors malformed ones give), key files, and chunk bodies in
 * every encoding with the checks a reader applies.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { s3TargetSchema } from '../../../bin/config/schema.js';
import { TargetError } from '../../../consumers/errors.js';
import {
  bucketLayout,
  parseChunkKey,
  parseManifestKey,
  parsePendingKey,
} from '../../../consumers/s3/bucket-layout.js';
import { createChunkCodec } from '../../../consumers/s3/chunk-codec.js';
import { ChunkMap } from '../../../consumers/s3/chunk-map.js';
import { deriveChunkKeys, parseKeyBytes } from '../../../consumers/s3/encryption-key.js';
import {
  decodeManifest,
  decodePendingSegment,
  encodeManifest,
  encodePendingSegment,
  type Manifest,
} from '../../../consumers/s3/manifest.js';

const isCode = (code: string) => (error: unknown) =>
  error instanceof TargetError && error.code === code;

test('bucket keys keep any disk id in one segment and parse back', () => {
  const layout = bucketLayout('dr');
  for (const diskId of ['vm-42/scsi0:1', '..', '.', 'disk 0', 'ü']) {
    const key = layout.manifestKey('vm1', diskId, 7);
    assert.equal(key.split('/').length, 5, key);
    assert.deepEqual(parseManifestKey(layout, key), { feed: 'vm1', diskId, epoch: 7 });
    assert.deepEqual(parsePendingKey(layout, layout.pendingKey('vm1', diskId, 3, 12)), {
      feed: 'vm1',
      diskId,
      epoch: 3,
      seq: 12,
    });
  }
  const name = `${'ab'.repeat(32)}.gz.enc`;
  assert.equal(layout.chunkKey(name), `dr/chunks/ab/${name}`);
  assert.equal(parseChunkKey(layout, layout.chunkKey(name)), name);
  assert.equal(parseChunkKey(layout, 'dr/chunks/ab/not-a-chunk'), null);
  assert.equal(parseManifestKey(layout, 'dr/manifests/vm1/d/7.json'), null);
});

test('the chunk map keeps names and suffixes, and resizes', () => {
  const map = new ChunkMap(5);
  const a = 'a'.repeat(64);
  map.set(0, a);
  map.set(3, `${'b'.repeat(64)}.enc`);
  assert.deepEqual(
    [...map.entries()],
    [
      [0, a],
      [3, `${'b'.repeat(64)}.enc`],
    ],
  );
  assert.deepEqual([...map.resized(2).entries()], [[0, a]]);
  assert.equal(map.resized(9).presentCount(), 2);
  map.set(0, null);
  assert.equal(map.get(0), null);
  assert.throws(() => map.set(5, a), RangeError);
  assert.throws(() => map.set(1, 'xyz'), RangeError);
});

test('manifests and journal segments round-trip; malformed ones are named errors', () => {
  const chunks = new ChunkMap(ChunkMap.slotsFor(10_000, 4096));
  chunks.set(1, 'c'.repeat(64));
  chunks.set(2, `${'d'.repeat(64)}.gz`);
  const manifest: Manifest = {
    feed: 'vm1',
    disk: 'vm-42/scsi0:1',
    epoch: 9,
    mode: 'INCREMENTAL',
    baseEpoch: 8,
    sourceReference: 'snap-9',
    digest: 'f'.repeat(64),
    extentCount: 3,
    dataBytes: 4096,
    committedAtMs: 1,
    createdAtMs: 2,
    diskSizeBytes: 10_000,
    chunkSizeBytes: 4096,
    encryption: { algorithm: 'AES-256-GCM', keyId: '0123456789abcdef' },
    chunks,
  };
  const decoded = decodeManifest(encodeManifest(manifest), 'm');
  assert.deepEqual(
    { ...decoded, chunks: [...decoded.chunks.entries()] },
    {
      ...manifest,
      chunks: [...chunks.entries()],
    },
  );
  const text = encodeManifest(manifest).toString();
  for (const broken of [
    '{',
    text.replace('"extentlog-manifest"', '"other"'),
    text.replace('[2,', '[0,'),
    text.replace('[2,', '[3,'),
    text.replace('"diskSizeBytes":10000', '"diskSizeBytes":-1'),
  ])
    assert.throws(
      () => decodeManifest(Buffer.from(broken), 'm'),
      isCode('EXTENTLOG_ERR_TARGET_MANIFEST'),
    );
  const segment = {
    epoch: 3,
    mode: 'FULL' as const,
    baseEpoch: null,
    diskSizeBytes: 10,
    chunkSizeBytes: 4096,
    changes: [
      [0, null],
      [1, 'e'.repeat(64)],
    ] as [number, string | null][],
  };
  assert.deepEqual(decodePendingSegment(encodePendingSegment(segment), 'p'), segment);
  assert.throws(
    () => decodePendingSegment(Buffer.from('[]'), 'p'),
    isCode('EXTENTLOG_ERR_TARGET_MANIFEST'),
  );
});

test('key files: 32 raw bytes, 64 hex digits or base64; anything else is refused', () => {
  const key = randomBytes(32);
  assert.deepEqual(parseKeyBytes(key), key);
  assert.deepEqual(parseKeyBytes(Buffer.from(`${key.toString('hex')}\n`)), key);
  assert.deepEqual(parseKeyBytes(Buffer.from(key.toString('base64'))), key);
  assert.equal(parseKeyBytes(Buffer.from('too short')), null);
  assert.notEqual(deriveChunkKeys(key).keyId, deriveChunkKeys(randomBytes(32)).keyId);
});

test('chunk bodies decode only when intact, complete and under the right key', async () => {
  const plaintext = Buffer.concat([randomBytes(5000), Buffer.alloc(3000)]);
  for (const compression of ['none', 'gzip'] as const)
    for (const encrypted of [false, true]) {
      const key = randomBytes(32);
      const codec = createChunkCodec({
        compression,
        keys: encrypted ? deriveChunkKeys(key) : null,
      });
      const name = await codec.nameOf(plaintext);
      assert.equal(name.endsWith('.enc'), encrypted);
      const body = await codec.encode(name, plaintext);
      assert.deepEqual(await codec.encode(name, plaintext), body, 'deterministic (dedupes)');
      assert.deepEqual(await codec.decode(name, body, plaintext.length, 'w'), plaintext);
      const tampered = Buffer.from(body);
      tampered[tampered.length - 1]! ^= 1;
      await assert.rejects(
        codec.decode(name, tampered, plaintext.length, 'w'),
        isCode('EXTENTLOG_ERR_TARGET_CHUNK_CORRUPT'),
      );
      await assert.rejects(
        codec.decode(name, body, plaintext.length + 1, 'w'),
        isCode('EXTENTLOG_ERR_TARGET_CHUNK_CORRUPT'),
      );
      if (encrypted) {
        const otherKey = createChunkCodec({ compression, keys: deriveChunkKeys(randomBytes(32)) });
        await assert.rejects(
          otherKey.decode(name, body, plaintext.length, 'w'),
          isCode('EXTENTLOG_ERR_TARGET_CHUNK_CORRUPT'),
        );
        const noKey = createChunkCodec({ compression, keys: null });
        await assert.rejects(
          noKey.decode(name, body, plaintext.length, 'w'),
          isCode('EXTENTLOG_ERR_TARGET_KEY'),
        );
      }
    }
});

test('the s3 target configuration rejects unknown keys and odd chunk sizes', () => {
  const base = { type: 's3', name: 'o', feeds: ['f'], bucket: 'bkt' };
  assert.equal(s3TargetSchema.parse(base).chunkSizeBytes, 4 * 1024 * 1024);
  assert.equal(s3TargetSchema.safeParse({ ...base, chunkSizeBytes: 100_000 }).success, false);
  assert.equal(s3TargetSchema.safeParse({ ...base, bukcet: 'x' }).success, false);
  assert.equal(
    s3TargetSchema.safeParse({ ...base, credentials: { accessKeyIdFile: 'a' } }).success,
    false,
  );
});
