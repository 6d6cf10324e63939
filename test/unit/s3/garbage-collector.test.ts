/**
 * Garbage collection and retention against an in-memory store: what is collected and
 * when, and the protocol under concurrency — a collector looping while two disks replay
 * epochs that keep reusing chunks it is about to delete, with every store operation a
 * possible interleaving point. No manifest may ever refer to a missing chunk.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { bucketLayout } from '../../../consumers/s3/bucket-layout.js';
import { createChunkCodec } from '../../../consumers/s3/chunk-codec.js';
import { createChunkStore } from '../../../consumers/s3/chunk-store.js';
import { collectGarbage } from '../../../consumers/s3/garbage-collector.js';
import { listManifests, readManifest } from '../../../consumers/s3/manifest-index.js';
import { applyRetention } from '../../../consumers/s3/retention.js';
import { createS3Target } from '../../../consumers/s3/s3-target.js';
import { TargetError } from '../../../consumers/errors.js';
import { createMemoryObjectStore } from '../../support/memory-object-store.js';
import {
  DiskModel,
  epochBegin,
  manifestSha256,
  prng,
  replayEpoch,
} from '../../support/s3-target-fixture.js';
import { patternBytes } from '../../support/image-files.js';
import { silentLogger } from '../../support/silent-logger.js';

const CHUNK = 4096;
const layout = bucketLayout('');

function setup(graceMs: number) {
  const store = createMemoryObjectStore();
  const now = () => store.clockMs;
  const chunks = createChunkStore({
    store,
    layout,
    codec: createChunkCodec({ compression: 'none', keys: null }),
    refreshAfterMs: graceMs / 4,
    now,
  });
  const target = createS3Target({
    store,
    layout,
    chunks,
    chunkSizeBytes: CHUNK,
    uploadConcurrency: 2,
    gcPollMs: 1,
    logger: silentLogger,
    now,
  });
  const gc = () =>
    collectGarbage({ store, layout, graceMs, leaseMs: 50 * graceMs, logger: silentLogger, now });
  return { store, chunks, target, gc };
}

const chunkKeys = (store: ReturnType<typeof createMemoryObjectStore>) =>
  [...store.objects.keys()].filter((key) => key.startsWith('chunks/'));

test('collects chunks no manifest refers to, once older than the grace period', async () => {
  const s = setup(1000);
  const sizeBytes = 3 * CHUNK;
  const disk = await s.target.openDisk({ feed: 'f', diskId: 'd', sizeBytes, blockSizeBytes: 512 });
  const write = (seed: number) => [
    {
      offsetBytes: 0,
      lengthBytes: sizeBytes,
      op: 'WRITE' as const,
      data: patternBytes(sizeBytes, seed),
    },
  ];
  const model = new DiskModel(sizeBytes);
  await replayEpoch(disk, model, epochBegin(1, sizeBytes), write(1));
  const latest = await replayEpoch(disk, model, epochBegin(2, sizeBytes), write(2));
  assert.equal(chunkKeys(s.store).length, 6);
  assert.equal((await s.gc()).deletedChunks, 0, 'both restore points still refer to their chunks');
  const retention = await applyRetention({ store: s.store, layout, policy: { keepLast: 1 } });
  assert.deepEqual(
    retention.deleted.map((entry) => entry.epoch),
    [1],
  );
  s.store.clockMs += 500;
  const early = await s.gc();
  assert.equal(early.deletedChunks, 0);
  assert.equal(early.youngUnreferenced, 3);
  s.store.clockMs += 1000;
  const late = await s.gc();
  assert.equal(late.deletedChunks, 3);
  assert.equal(chunkKeys(s.store).length, 3);
  assert.ok(!s.store.objects.has('gc/lock.json'), 'the lock is released');
  assert.equal(
    await manifestSha256(s.store, s.chunks, latest.slice(s.store.url.length)),
    model.sha256(),
  );
});

test('a second collection is refused while the first holds a live lock', async () => {
  const s = setup(1000);
  let second: Promise<unknown> | null = null;
  s.store.beforeOperation = (operation, key) => {
    if (operation === 'list' && key === 'pending/' && second === null) second = s.gc();
  };
  await s.gc();
  await assert.rejects(
    second!,
    (error: unknown) => error instanceof TargetError && error.code === 'EXTENTLOG_ERR_TARGET_GC',
  );
});

for (const seed of [42, 43])
  test(`collection running concurrently with replay never deletes a referenced chunk (seed ${seed})`, async (t) => {
    const graceMs = 400;
    const s = setup(graceMs);
    const random = prng(seed);
    const violations: string[] = [];
    s.store.beforeOperation = async (operation, key) => {
      if (operation === 'delete' && key.startsWith('chunks/'))
        for (const [other, object] of s.store.objects)
          if (
            other.startsWith('manifests/') &&
            object.body.includes(key.slice(key.lastIndexOf('/') + 1))
          )
            violations.push(`${key} deleted while ${other} refers to it`);
      s.store.clockMs += Math.floor(random() * 20);
      if (random() < 0.6) await new Promise((resolve) => setImmediate(resolve));
    };
    const sizeBytes = 4 * CHUNK;
    const pool = Array.from({ length: 10 }, (_, index) => patternBytes(CHUNK, 100 + index));
    const expected = new Map<string, string>();
    let writing = true;
    let retries = 0;
    const codes = new Map<string, number>();
    let collections = 0;
    let deleted = 0;

    async function writer(diskId: string, seed: number) {
      const pick = prng(seed);
      let disk = await s.target.openDisk({ feed: 'f', diskId, sizeBytes, blockSizeBytes: 512 });
      for (let epoch = 1; epoch <= 30; epoch++) {
        const data = Buffer.concat(
          Array.from({ length: 4 }, () => pool[Math.floor(pick() * pool.length)]!),
        );
        const extents = [{ offsetBytes: 0, lengthBytes: sizeBytes, op: 'WRITE' as const, data }];
        for (;;) {
          try {
            const model = new DiskModel(sizeBytes);
            const location = await replayEpoch(
              disk,
              model,
              epochBegin(epoch, sizeBytes, 'FULL'),
              extents,
            );
            const manifest = s.store.objects.get(location.slice(s.store.url.length))!.body;
            for (const [, name] of JSON.parse(manifest.toString()).chunks as [number, string][])
              if (!s.store.objects.has(layout.chunkKey(name)))
                violations.push(`epoch ${epoch} of ${diskId} was sealed without ${name}`);
            expected.set(`${diskId}/${epoch}`, model.sha256());
            break;
          } catch (error) {
            if (!(error instanceof TargetError) || !error.retriable) throw error;
            codes.set(error.code, (codes.get(error.code) ?? 0) + 1);
            retries++; // what the replay engine does: reopen, re-apply since the committed offset
            await disk.close();
            disk = await s.target.openDisk({ feed: 'f', diskId, sizeBytes, blockSizeBytes: 512 });
          }
        }
        await applyRetention({
          store: s.store,
          layout,
          policy: { keepLast: 2 },
          diskId,
          feed: 'f',
        });
        // Time passes between epochs, but far less than the grace period at once (a writer is
        // never stalled for a quarter of it between a check and the write it guards).
        s.store.clockMs += Math.floor((pick() * graceMs) / 4);
      }
    }

    async function collector() {
      while (writing) {
        try {
          deleted += (await s.gc()).deletedChunks;
          collections++;
        } catch (error) {
          if (!(error instanceof TargetError) || error.code !== 'EXTENTLOG_ERR_TARGET_GC')
            throw error;
        }
        await new Promise((resolve) => setImmediate(resolve));
      }
    }

    const gcLoop = collector();
    await Promise.all([writer('a', seed * 2), writer('b', seed * 2 + 1)]);
    writing = false;
    await gcLoop;
    assert.deepEqual(violations, [], 'no chunk a manifest refers to was ever deleted');
    assert.ok(collections > 5, `collections ran (${collections})`);
    assert.ok(deleted > 0, 'some garbage was collected');
    s.store.beforeOperation = null;
    const manifests = await listManifests(s.store, layout);
    assert.equal(manifests.length, 4);
    for (const entry of manifests) {
      const manifest = await readManifest(s.store, entry.key);
      for (const [, name] of manifest.chunks.entries())
        assert.ok(
          s.store.objects.has(layout.chunkKey(name)),
          `${entry.key} refers to ${name}, which exists`,
        );
      assert.equal(
        await manifestSha256(s.store, s.chunks, entry.key),
        expected.get(`${entry.diskId}/${entry.epoch}`),
      );
    }
    t.diagnostic(
      `retries ${retries} ${JSON.stringify([...codes])}, collections ${collections}, deleted ${deleted}`,
    );
  });

test('a chunk a writer touches while a collection is deleting it is uploaded again, not lost', async () => {
  const graceMs = 1000;
  const s = setup(graceMs);
  const sizeBytes = CHUNK;
  const content = patternBytes(CHUNK, 77);
  const write = [{ offsetBytes: 0, lengthBytes: CHUNK, op: 'WRITE' as const, data: content }];
  // An orphan: written by disk 'old', whose restore point is then gone.
  await replayEpoch(
    await s.target.openDisk({ feed: 'f', diskId: 'old', sizeBytes, blockSizeBytes: 512 }),
    new DiskModel(sizeBytes),
    epochBegin(1, sizeBytes),
    write,
  );
  for (const key of [...s.store.objects.keys()])
    if (key.startsWith('manifests/')) s.store.objects.delete(key);
  const orphanKey = chunkKeys(s.store)[0]!;
  s.store.clockMs += 2 * graceMs;

  // The collection has re-checked the orphan and is about to delete it when the writer
  // finds it, touches it and relies on it.
  let releaseDelete!: () => void;
  let arrivedAtDelete!: () => void;
  const deleteGate = new Promise<void>((resolve) => (releaseDelete = resolve));
  const collectorAtDelete = new Promise<void>((resolve) => (arrivedAtDelete = resolve));
  s.store.beforeOperation = async (operation, key) => {
    if (operation === 'delete' && key === orphanKey) {
      arrivedAtDelete();
      await deleteGate;
    }
    if (operation === 'touch' && key === orphanKey) {
      await collectorAtDelete;
      setImmediate(releaseDelete); // after this touch, before the delete
    }
  };
  const collection = s.gc();
  const writer = await s.target.openDisk({
    feed: 'f',
    diskId: 'new',
    sizeBytes,
    blockSizeBytes: 512,
  });
  const model = new DiskModel(sizeBytes);
  await assert.rejects(
    replayEpoch(writer, model, epochBegin(1, sizeBytes), write),
    (error: unknown) => {
      assert.ok(error instanceof TargetError && error.retriable, String(error));
      assert.equal(error.code, 'EXTENTLOG_ERR_TARGET_CHUNK_MISSING');
      return true;
    },
  );
  assert.equal((await collection).deletedChunks, 1);
  assert.deepEqual(
    await listManifests(s.store, layout),
    [],
    'nothing was sealed over the lost chunk',
  );
  // What the replay engine does next: the records are applied again.
  s.store.beforeOperation = null;
  const retry = await s.target.openDisk({
    feed: 'f',
    diskId: 'new',
    sizeBytes,
    blockSizeBytes: 512,
  });
  const location = await replayEpoch(retry, model, epochBegin(1, sizeBytes), write);
  assert.equal(
    await manifestSha256(s.store, s.chunks, location.slice(s.store.url.length)),
    model.sha256(),
  );
});
