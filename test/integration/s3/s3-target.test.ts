/**
 * The S3 target against a real S3 server: radosgw on a single-node Ceph cluster started for
 * this file (test/peers/ceph.sh), a fresh bucket per test. Restore points restore to
 * images with the disk's exact sha256; dedupe, multipart and ranged reads, garbage
 * collection racing a replay, and the errors an operator meets.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { s3TargetSchema, type S3TargetConfig } from '../../../bin/config/schema.js';
import { buildS3Target, type S3TargetParts } from '../../../bin/s3-target.js';
import { TargetError } from '../../../consumers/errors.js';
import { collectGarbage } from '../../../consumers/s3/garbage-collector.js';
import { listManifests, readManifest } from '../../../consumers/s3/manifest-index.js';
import { restoreImage } from '../../../consumers/s3/restore-image.js';
import { applyRetention } from '../../../consumers/s3/retention.js';
import { startCephCluster, type CephCluster } from '../../support/ceph-cluster.js';
import { sha256OfFile } from '../../support/image-files.js';
import { attachLoopDevice } from '../../support/loop-device.js';
import {
  DiskModel,
  epochBegin,
  manifestSha256,
  prng,
  randomExtents,
  replayEpoch,
} from '../../support/s3-target-fixture.js';
import { silentLogger } from '../../support/silent-logger.js';
import { tempDir } from '../../support/temp-dir.js';

const MiB = 1024 * 1024;
let ceph: CephCluster;
const opened: S3TargetParts[] = [];

before(async () => {
  ceph = await startCephCluster();
});
after(async () => {
  for (const parts of opened) parts.client.destroy();
  await ceph?.stop();
});

async function target(bucket: string, settings: Partial<S3TargetConfig> = {}) {
  const config = s3TargetSchema.parse({
    type: 's3',
    name: 'objects',
    feeds: ['vm1'],
    provider: 'generic',
    endpoint: ceph.endpoint,
    bucket,
    prefix: 'dr/',
    credentials: {
      accessKeyIdFile: ceph.accessKeyIdFile,
      secretAccessKeyFile: ceph.secretAccessKeyFile,
    },
    chunkSizeBytes: MiB,
    maxDirtyBytes: 4 * MiB,
    uploadConcurrency: 4,
    ...settings,
  });
  const parts = await buildS3Target(config, silentLogger);
  opened.push(parts);
  return parts;
}

const disk = (diskId: string, sizeBytes: number) => ({
  feed: 'vm1',
  diskId,
  sizeBytes,
  blockSizeBytes: 512,
});

async function countChunks(parts: S3TargetParts): Promise<number> {
  let count = 0;
  for await (const _ of parts.store.list(parts.layout.chunksPrefix())) count++;
  return count;
}

async function restoreTo(parts: S3TargetParts, location: string, outputPath: string) {
  const key = location.slice(parts.store.url.length);
  const manifest = await readManifest(parts.store, key);
  return restoreImage({ chunks: parts.chunks, manifest, where: key, outputPath });
}

test('restore points replayed into radosgw restore to images with the disk sha256; a clone adds no chunks', async (t) => {
  const dir = await tempDir(t, 's3-restore');
  const parts = await target(await ceph.bucket('restore'), { compression: 'gzip' });
  const sizeBytes = 12 * MiB + 4096 * 3;
  const model = new DiskModel(sizeBytes);
  const writer = await parts.target.openDisk(disk('disk-0', sizeBytes));
  const points: { location: string; sha256: string }[] = [];
  const full = [
    { offsetBytes: 0, lengthBytes: 9 * MiB, op: 'WRITE' as const, data: randomBytes(9 * MiB) },
  ];
  points.push({
    location: await replayEpoch(writer, model, epochBegin(1, sizeBytes), full),
    sha256: model.sha256(),
  });
  for (let epoch = 2; epoch <= 4; epoch++) {
    const location = await replayEpoch(
      writer,
      model,
      epochBegin(epoch, sizeBytes),
      randomExtents(sizeBytes, 40, epoch, 300 * 1024),
      10,
    );
    points.push({ location, sha256: model.sha256() });
  }
  for (const [index, point] of points.entries()) {
    const output = path.join(dir.path, `restored-${index}.img`);
    const result = await restoreTo(parts, point.location, output);
    assert.equal(result.sha256, point.sha256, `epoch ${index + 1} restores`);
    assert.equal(await sha256OfFile(output), point.sha256, `image of epoch ${index + 1}`);
  }
  const chunksBefore = await countChunks(parts);
  const clone = await parts.target.openDisk(disk('disk-clone', sizeBytes));
  const cloneModel = new DiskModel(sizeBytes);
  const cloned = await replayEpoch(clone, cloneModel, epochBegin(1, sizeBytes), [
    { offsetBytes: 0, lengthBytes: sizeBytes, op: 'WRITE', data: Buffer.from(model.bytes) },
  ]);
  assert.equal(await countChunks(parts), chunksBefore, 'the clone stored no new chunk');
  assert.equal(
    (await restoreTo(parts, cloned, path.join(dir.path, 'clone.img'))).sha256,
    model.sha256(),
  );
  await writer.close();
  await clone.close();
});

test('chunks above the multipart threshold go up in parts and come back with parallel ranged GETs', async (t) => {
  const dir = await tempDir(t, 's3-multipart');
  const parts = await target(await ceph.bucket('multipart'), {
    chunkSizeBytes: 20 * MiB,
    maxDirtyBytes: 40 * MiB,
  });
  const sizeBytes = 30 * MiB;
  const model = new DiskModel(sizeBytes);
  const writer = await parts.target.openDisk(disk('big', sizeBytes));
  const location = await replayEpoch(writer, model, epochBegin(1, sizeBytes), [
    { offsetBytes: MiB, lengthBytes: 27 * MiB, op: 'WRITE', data: randomBytes(27 * MiB) },
  ]);
  assert.equal(
    (await restoreTo(parts, location, path.join(dir.path, 'big.img'))).sha256,
    model.sha256(),
  );
  await writer.close();
});

function assertCode(code: string, pattern?: RegExp) {
  return (error: unknown) => {
    assert.ok(error instanceof TargetError, `expected a TargetError, received ${String(error)}`);
    assert.equal(error.code, code, error.message);
    if (pattern) assert.match(error.message, pattern);
    return true;
  };
}

test('wrong credentials, a missing bucket, a tampered chunk and a wrong key are each a clear error', async (t) => {
  const dir = await tempDir(t, 's3-errors');
  const bucket = await ceph.bucket('errors');
  const keyFile = path.join(dir.path, 'key');
  await writeFile(keyFile, randomBytes(32).toString('hex'));
  const parts = await target(bucket, { encryption: { keyFile } });
  const sizeBytes = 3 * MiB;
  const model = new DiskModel(sizeBytes);
  const writer = await parts.target.openDisk(disk('d', sizeBytes));
  const location = await replayEpoch(
    writer,
    model,
    epochBegin(1, sizeBytes),
    randomExtents(sizeBytes, 20, 1, 200 * 1024),
  );
  const manifestKey = location.slice(parts.store.url.length);
  const admin = ceph.client();
  const manifestBody = async () =>
    Buffer.from(
      await (
        await admin.send(new GetObjectCommand({ Bucket: bucket, Key: manifestKey }))
      ).Body!.transformToByteArray(),
    );
  const good = await manifestBody();

  const badKeyFile = path.join(dir.path, 'bad-secret');
  await writeFile(badKeyFile, 'not-the-secret');
  const wrongCredentials = await target(bucket, {
    credentials: { accessKeyIdFile: ceph.accessKeyIdFile, secretAccessKeyFile: badKeyFile },
  });
  await assert.rejects(
    (await wrongCredentials.target.openDisk(disk('d', sizeBytes))).beginEpoch(
      epochBegin(2, sizeBytes),
    ),
    assertCode('EXTENTLOG_ERR_TARGET_AUTH', /SignatureDoesNotMatch.*check the access key/),
  );

  const missingBucket = await target(`${bucket}-missing`);
  await assert.rejects(
    (await missingBucket.target.openDisk(disk('d', sizeBytes))).beginEpoch(
      epochBegin(1, sizeBytes),
    ),
    assertCode('EXTENTLOG_ERR_TARGET_BUCKET', /NoSuchBucket.*create the bucket/),
  );

  const otherKeyFile = path.join(dir.path, 'other-key');
  await writeFile(otherKeyFile, randomBytes(32));
  const otherKey = await target(bucket, { encryption: { keyFile: otherKeyFile } });
  await assert.rejects(
    restoreTo(otherKey, location, path.join(dir.path, 'wrong-key.img')),
    assertCode('EXTENTLOG_ERR_TARGET_KEY', /encrypted with key id [0-9a-f]{16}/),
  );
  await assert.rejects(
    (await otherKey.target.openDisk(disk('d', sizeBytes))).beginEpoch(epochBegin(2, sizeBytes)),
    assertCode('EXTENTLOG_ERR_TARGET_KEY', /re-baseline/),
  );

  const manifest = await readManifest(parts.store, manifestKey);
  const [, victim] = manifest.chunks.entries().next().value as [number, string];
  const victimKey = parts.layout.chunkKey(victim);
  const body = Buffer.from(
    await (
      await admin.send(new GetObjectCommand({ Bucket: bucket, Key: victimKey }))
    ).Body!.transformToByteArray(),
  );
  body[body.length - 20]! ^= 0x01;
  await admin.send(new PutObjectCommand({ Bucket: bucket, Key: victimKey, Body: body }));
  await assert.rejects(
    restoreTo(parts, location, path.join(dir.path, 'tampered.img')),
    assertCode('EXTENTLOG_ERR_TARGET_CHUNK_CORRUPT', /AES-GCM authentication failed/),
  );
  assert.deepEqual(await manifestBody(), good, 'the good restore point is untouched');
  admin.destroy();
  await writer.close();
});

test('garbage collection running while a disk replays never deletes a chunk a manifest refers to', async () => {
  const graceMs = 3000;
  const parts = await target(await ceph.bucket('gc'), {
    chunkSizeBytes: 256 * 1024,
    gc: { graceMs, leaseMs: 30_000 },
  });
  const sizeBytes = 4 * MiB;
  const pool = Array.from({ length: 24 }, () => randomBytes(256 * 1024));
  const pick = prng(7);
  const expected = new Map<number, string>();
  const violations: string[] = [];
  let replaying = true;
  let collections = 0;
  let deleted = 0;
  const collector = (async () => {
    while (replaying) {
      try {
        deleted += (
          await collectGarbage({
            store: parts.store,
            layout: parts.layout,
            graceMs,
            logger: silentLogger,
          })
        ).deletedChunks;
        collections++;
      } catch (error) {
        if (!(error instanceof TargetError) || error.code !== 'EXTENTLOG_ERR_TARGET_GC')
          throw error;
      }
    }
  })();
  let writer = await parts.target.openDisk(disk('churn', sizeBytes));
  const model = new DiskModel(sizeBytes);
  const startedAt = Date.now();
  for (let epoch = 1; Date.now() - startedAt < 25_000 || epoch <= 6; epoch++) {
    const extents = Array.from({ length: 8 }, () => ({
      offsetBytes: Math.floor(pick() * 16) * 256 * 1024,
      lengthBytes: 256 * 1024,
      op: 'WRITE' as const,
      data: pool[Math.floor(pick() * pool.length)]!,
    }));
    for (;;) {
      try {
        const attempt = new DiskModel(sizeBytes);
        model.bytes.copy(attempt.bytes);
        const location = await replayEpoch(writer, attempt, epochBegin(epoch, sizeBytes), extents);
        model.bytes = attempt.bytes;
        expected.set(epoch, model.sha256());
        const manifest = await readManifest(parts.store, location.slice(parts.store.url.length));
        for (const [, name] of manifest.chunks.entries())
          if ((await parts.store.head(parts.layout.chunkKey(name))) === null)
            violations.push(`epoch ${epoch} sealed without ${name}`);
        break;
      } catch (error) {
        if (!(error instanceof TargetError) || !error.retriable) throw error;
        await writer.close();
        writer = await parts.target.openDisk(disk('churn', sizeBytes));
      }
    }
    await applyRetention({ store: parts.store, layout: parts.layout, policy: { keepLast: 2 } });
  }
  replaying = false;
  await collector;
  assert.deepEqual(violations, []);
  assert.ok(collections > 2, `collections ran: ${collections}`);
  for (const entry of await listManifests(parts.store, parts.layout)) {
    assert.equal(
      await manifestSha256(parts.store, parts.chunks, entry.key),
      expected.get(entry.epoch),
      `epoch ${entry.epoch} restores`,
    );
  }
  assert.ok(deleted > 0, `the collections deleted garbage: ${deleted}`);
  await writer.close();
});

test('a restore onto a block device writes zeros where the restore point has holes', async (t) => {
  const dir = await tempDir(t, 's3-device');
  const parts = await target(await ceph.bucket('device'));
  const sizeBytes = 6 * MiB;
  const model = new DiskModel(sizeBytes);
  const writer = await parts.target.openDisk(disk('dev', sizeBytes));
  const location = await replayEpoch(writer, model, epochBegin(1, sizeBytes), [
    { offsetBytes: MiB + 512, lengthBytes: MiB, op: 'WRITE', data: randomBytes(MiB) },
    { offsetBytes: 4 * MiB, lengthBytes: 4096, op: 'WRITE', data: randomBytes(4096) },
  ]);
  await writer.close();
  const backing = path.join(dir.path, 'device.img');
  await writeFile(backing, randomBytes(8 * MiB)); // old contents that must not show through
  const loop = await attachLoopDevice(backing);
  dir.beforeRemoval(() => loop.detach());
  const result = await restoreTo(parts, location, loop.device);
  assert.equal(result.sha256, model.sha256());
  assert.equal(await sha256OfFile(loop.device, sizeBytes), model.sha256());
});
