/**
 * The S3 target's epoch logic against an in-memory object store: read-modify-write of
 * partial chunks, early sealing under a small memory budget, journals after a crash,
 * resizes, dedupe, idempotent commits, and every restore point equal to the disk model.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { bucketLayout } from '../../../consumers/s3/bucket-layout.js';
import { createChunkCodec, type Compression } from '../../../consumers/s3/chunk-codec.js';
import { createChunkStore } from '../../../consumers/s3/chunk-store.js';
import { deriveChunkKeys } from '../../../consumers/s3/encryption-key.js';
import type { RetentionPolicy } from '../../../consumers/s3/retention.js';
import { listManifests } from '../../../consumers/s3/manifest-index.js';
import { createS3Target } from '../../../consumers/s3/s3-target.js';
import { TargetError } from '../../../consumers/errors.js';
import type { Target } from '../../../consumers/target.js';
import {
  createMemoryObjectStore,
  type MemoryObjectStore,
} from '../../support/memory-object-store.js';
import {
  DiskModel,
  epochBegin,
  manifestSha256,
  randomExtents,
  replayEpoch,
} from '../../support/s3-target-fixture.js';
import { silentLogger } from '../../support/silent-logger.js';

const CHUNK = 16 * 1024;
const layout = bucketLayout('backups');

function setup(
  options: {
    compression?: Compression;
    key?: Buffer;
    store?: MemoryObjectStore;
    maxDirtyBytes?: number;
    retention?: RetentionPolicy;
  } = {},
) {
  const store = options.store ?? createMemoryObjectStore();
  const codec = createChunkCodec({
    compression: options.compression ?? 'none',
    keys: options.key === undefined ? null : deriveChunkKeys(options.key),
  });
  const now = () => store.clockMs;
  const chunks = createChunkStore({ store, layout, codec, refreshAfterMs: 60_000, now });
  const target = createS3Target({
    store,
    layout,
    chunks,
    chunkSizeBytes: CHUNK,
    maxDirtyBytes: options.maxDirtyBytes ?? 4 * CHUNK,
    uploadConcurrency: 3,
    gcPollMs: 1,
    ...(options.retention === undefined ? {} : { retention: options.retention }),
    logger: silentLogger,
    now,
  });
  return { store, chunks, target };
}

function restoredSha256(setupResult: ReturnType<typeof setup>, location: string) {
  const key = location.slice(setupResult.store.url.length);
  return manifestSha256(setupResult.store, setupResult.chunks, key);
}

async function readerSha256(target: Target, location: string, sizeBytes: number) {
  const reader = await target.openRestorePoint!(
    {
      target: 't',
      feed: 'f',
      disk: 'd',
      epoch: 0,
      sourceReference: '',
      digest: '',
      diskSizeBytes: sizeBytes,
      committedAtMs: 0,
      durableAtMs: 0,
      location,
    },
    null as never,
  );
  const { createHash } = await import('node:crypto');
  const hash = createHash('sha256');
  for (let offset = 0; offset < sizeBytes; offset += 10_000)
    hash.update(await reader.read(offset, Math.min(10_000, sizeBytes - offset)));
  await reader.close();
  return hash.digest('hex');
}

const disk = { feed: 'f', diskId: 'vm-1/scsi0:0', sizeBytes: 0, blockSizeBytes: 512 };

for (const variant of [
  { name: 'plain', compression: 'none' as const },
  { name: 'gzip + AES-256-GCM', compression: 'gzip' as const, key: Buffer.alloc(32, 7) },
]) {
  test(`every restore point equals the disk after its epoch (${variant.name})`, async () => {
    const s = setup(variant);
    const sizeBytes = 10 * CHUNK + 1234; // a short last slot
    const model = new DiskModel(sizeBytes);
    const targetDisk = await s.target.openDisk({ ...disk, sizeBytes });
    const points: { location: string; sha256: string }[] = [];
    for (let epoch = 1; epoch <= 4; epoch++) {
      const extents = randomExtents(sizeBytes, epoch === 1 ? 40 : 25, epoch, 3 * CHUNK);
      const location = await replayEpoch(
        targetDisk,
        model,
        epochBegin(epoch, sizeBytes),
        extents,
        7,
      );
      points.push({ location, sha256: model.sha256() });
    }
    for (const point of points) {
      assert.equal(await restoredSha256(s, point.location), point.sha256);
      assert.equal(await readerSha256(s.target, point.location, sizeBytes), point.sha256);
    }
    assert.equal(
      [...s.store.objects.keys()].filter((key) => key.includes('/pending/')).length,
      0,
      'journals are removed once their epoch is sealed',
    );
    await targetDisk.close();
  });
}

test('a crash after a flush resumes the epoch from its journal', async () => {
  const s = setup();
  const sizeBytes = 8 * CHUNK;
  const model = new DiskModel(sizeBytes);
  const first = await s.target.openDisk({ ...disk, sizeBytes });
  await replayEpoch(first, model, epochBegin(1, sizeBytes), randomExtents(sizeBytes, 30, 11));
  const extents = randomExtents(sizeBytes, 40, 12, 2 * CHUNK);
  await first.beginEpoch(epochBegin(2, sizeBytes));
  for (const extent of extents.slice(0, 20)) {
    await first.apply(extent);
    model.apply(extent);
  }
  await first.flush(); // the engine commits offsets up to here
  for (const extent of extents.slice(20, 30)) await first.apply(extent); // lost in the crash
  // A new process: the engine re-applies from the committed offset.
  const second = await s.target.openDisk({ ...disk, sizeBytes });
  const location = await replayEpoch(second, model, epochBegin(2, sizeBytes), extents.slice(20));
  assert.equal(await restoredSha256(s, location), model.sha256());
});

test('a disk grows and shrinks between incremental epochs', async () => {
  const s = setup();
  let sizeBytes = 5 * CHUNK + 100;
  const model = new DiskModel(sizeBytes);
  const targetDisk = await s.target.openDisk({ ...disk, sizeBytes });
  await replayEpoch(targetDisk, model, epochBegin(1, sizeBytes), [
    { offsetBytes: 0, lengthBytes: sizeBytes, op: 'WRITE', data: Buffer.alloc(sizeBytes, 9) },
  ]);
  for (const [epoch, next] of [
    [2, 7 * CHUNK + 5000],
    [3, 3 * CHUNK + 10],
    [4, 3 * CHUNK + 10],
  ] as const) {
    sizeBytes = next;
    const location = await replayEpoch(
      targetDisk,
      model,
      epochBegin(epoch, sizeBytes),
      randomExtents(sizeBytes, 5, epoch, CHUNK),
    );
    assert.equal(await restoredSha256(s, location), model.sha256(), `epoch ${epoch}`);
  }
});

test('identical content on a second disk adds no chunk objects; zero chunks are not stored', async () => {
  const s = setup();
  const sizeBytes = 6 * CHUNK;
  const data = Buffer.concat([
    Buffer.alloc(2 * CHUNK, 1),
    Buffer.alloc(2 * CHUNK),
    Buffer.alloc(2 * CHUNK, 2),
  ]);
  const write = [{ offsetBytes: 0, lengthBytes: sizeBytes, op: 'WRITE' as const, data }];
  const chunkCount = () =>
    [...s.store.objects.keys()].filter((key) => key.includes('/chunks/')).length;
  await replayEpoch(
    await s.target.openDisk({ ...disk, sizeBytes }),
    new DiskModel(sizeBytes),
    epochBegin(1, sizeBytes),
    write,
  );
  assert.equal(chunkCount(), 2, 'two distinct non-zero chunks');
  let chunkPuts = 0;
  s.store.beforeOperation = (operation, key) => {
    if (operation === 'put' && key.includes('/chunks/')) chunkPuts++;
  };
  await replayEpoch(
    await s.target.openDisk({ ...disk, diskId: 'clone', sizeBytes }),
    new DiskModel(sizeBytes),
    epochBegin(1, sizeBytes),
    write,
  );
  assert.equal(chunkCount(), 2);
  assert.equal(chunkPuts, 0, 'no chunk was uploaded again');
});

test('a sealed epoch commits again idempotently; another digest for it is refused', async () => {
  const s = setup();
  const sizeBytes = 4 * CHUNK;
  const model = new DiskModel(sizeBytes);
  const extents = randomExtents(sizeBytes, 10, 5);
  const location = await replayEpoch(
    await s.target.openDisk({ ...disk, sizeBytes }),
    model,
    epochBegin(1, sizeBytes),
    extents,
  );
  const manifestBefore = Buffer.from(s.store.objects.get(location.slice(s.store.url.length))!.body);
  const again = await s.target.openDisk({ ...disk, sizeBytes });
  assert.equal(
    await replayEpoch(again, new DiskModel(sizeBytes), epochBegin(1, sizeBytes), extents),
    location,
  );
  await again.beginEpoch(epochBegin(1, sizeBytes));
  await assert.rejects(
    again.commitEpoch({
      epoch: 1,
      extentCount: 1,
      bytes: 0,
      digest: 'other',
      sourceReference: '',
      committedAtMs: 0,
    }),
    (error: unknown) =>
      error instanceof TargetError && error.code === 'EXTENTLOG_ERR_TARGET_MANIFEST',
  );
  assert.deepEqual(s.store.objects.get(location.slice(s.store.url.length))!.body, manifestBefore);
});

test('an incremental epoch without its base manifest, or under another key, is refused', async () => {
  const store = createMemoryObjectStore();
  const s = setup({ store, key: Buffer.alloc(32, 1) });
  const sizeBytes = 2 * CHUNK;
  await replayEpoch(
    await s.target.openDisk({ ...disk, sizeBytes }),
    new DiskModel(sizeBytes),
    epochBegin(1, sizeBytes),
    randomExtents(sizeBytes, 4, 1),
  );
  const otherKey = setup({ store, key: Buffer.alloc(32, 2) });
  await assert.rejects(
    (await otherKey.target.openDisk({ ...disk, sizeBytes })).beginEpoch(epochBegin(2, sizeBytes)),
    (error: unknown) => error instanceof TargetError && error.code === 'EXTENTLOG_ERR_TARGET_KEY',
  );
  await assert.rejects(
    (await s.target.openDisk({ ...disk, sizeBytes })).beginEpoch({
      ...epochBegin(3, sizeBytes),
      baseEpoch: 2,
    }),
    (error: unknown) =>
      error instanceof TargetError && error.code === 'EXTENTLOG_ERR_TARGET_BASE_MISSING',
  );
});

test('a tampered chunk fails the restore with a hash mismatch', async () => {
  const s = setup();
  const sizeBytes = 3 * CHUNK;
  const location = await replayEpoch(
    await s.target.openDisk({ ...disk, sizeBytes }),
    new DiskModel(sizeBytes),
    epochBegin(1, sizeBytes),
    randomExtents(sizeBytes, 10, 3),
  );
  const chunkKey = [...s.store.objects.keys()].find((key) => key.includes('/chunks/'))!;
  s.store.objects.get(chunkKey)!.body[100]! ^= 0xff;
  await assert.rejects(restoredSha256(s, location), (error: unknown) => {
    assert.ok(error instanceof TargetError);
    assert.equal(error.code, 'EXTENTLOG_ERR_TARGET_CHUNK_CORRUPT');
    assert.match(error.message, /hashes to [0-9a-f]{64}, not to its name/);
    return true;
  });
});

test('a retention policy keeps the newest restore points of a disk as epochs are sealed', async () => {
  const s = setup({ retention: { keepLast: 2 } });
  const sizeBytes = 2 * CHUNK;
  const model = new DiskModel(sizeBytes);
  const targetDisk = await s.target.openDisk({ ...disk, sizeBytes });
  const locations: string[] = [];
  for (let epoch = 1; epoch <= 4; epoch++)
    locations.push(
      await replayEpoch(
        targetDisk,
        model,
        epochBegin(epoch, sizeBytes),
        randomExtents(sizeBytes, 3, epoch),
      ),
    );
  const kept = await listManifests(s.store, bucketLayout('backups'));
  assert.deepEqual(
    kept.map((entry) => entry.epoch),
    [3, 4],
  );
  assert.equal(await restoredSha256(s, locations[3]!), model.sha256());
});
