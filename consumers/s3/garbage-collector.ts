/**
 * Garbage collection of chunk objects: deletes only chunks that no manifest and no open
 * epoch's journal refers to, and only those older than a grace period, while writers keep
 * replaying. The protocol, with every time a server modification time:
 *
 * Collector
 *   1. Take the lock (`gc/lock.json`, create-only). Its modification time is the run's start
 *      T. Renew it well within its lease; stop if it is lost.
 *   2. List journals (`pending/`), then manifests, and collect every chunk name they refer
 *      to. Journals first: a writer deletes its journal only after writing its manifest, so
 *      an epoch is seen in one or the other. Journals of epochs that a manifest of the same
 *      disk has superseded are not references (and are removed in step 5).
 *   3. List chunks. A candidate is a chunk no one refers to, modified before T − grace.
 *   4. Publish the candidates (`gc/candidates/<run>.json`) and name them in the lock; then
 *      delete each candidate whose modification time, read again, is still before T − grace.
 *   5. Remove superseded journals and multipart uploads older than the grace period, then
 *      the candidates object and the lock.
 *
 * Writers (s3-target-disk.ts, chunk-store.ts, settle-touched.ts)
 *   a. A chunk uploaded by the writer is new: no running collection listed it, and no later
 *      one deletes it before T − grace passes its upload, by when the writer's next flush has
 *      journalled it (flushes run every second or so; the grace period is hours).
 *   b. A chunk found in the bucket and older than grace/4 is touched (its modification time
 *      set to now) before it is relied on, so later collections leave it alone; one younger
 *      than that is safe the same way as an upload.
 *   c. Because a running collection may have chosen a touched chunk before the touch, a
 *      writer settles touched chunks before journalling them: it waits while a live lock
 *      names candidates among them (or names none yet), then checks they still exist; one
 *      that vanished makes the flush fail and the records be applied (and uploaded) again.
 *   d. Chunks kept from the base restore point need nothing: retention never deletes a
 *      disk's newest manifest, which is the base of its next epoch.
 *
 * Assumptions: one writer per disk (one consumer group per target); the clocks of writers
 * and collector agree with the store's within a small fraction of the grace period (lock
 * liveness compares the local clock with the lock's modification time).
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { TargetError } from '../errors.js';
import { parseChunkKey, parsePendingKey, type BucketLayout } from './bucket-layout.js';
import { encodeGcLock, isLockLive, readGcLock, type GcLock } from './gc-lock.js';
import { decodeManifest, decodePendingSegment } from './manifest.js';
import { listManifests } from './manifest-index.js';
import type { ObjectStore } from './object-store.js';

export interface GarbageCollectionOptions {
  readonly store: ObjectStore;
  readonly layout: BucketLayout;
  /** Chunks younger than this are never deleted (default 24 h). */
  readonly graceMs: number;
  /** The lock's lease (default 2 min); renewed every third of it. */
  readonly leaseMs?: number;
  /** Report what would be deleted, delete nothing. */
  readonly dryRun?: boolean;
  readonly logger: Logger;
  readonly now?: () => number;
}

export interface GarbageCollectionReport {
  readonly runId: string;
  readonly startedAtMs: number;
  readonly manifests: number;
  readonly referencedChunks: number;
  readonly chunksListed: number;
  readonly candidates: number;
  readonly deletedChunks: number;
  readonly deletedBytes: number;
  /** Unreferenced chunks kept because they are younger than the grace period. */
  readonly youngUnreferenced: number;
  readonly journalsRemoved: number;
  readonly uploadsAborted: number;
}

const DELETE_BATCH = 100;

export async function collectGarbage(
  options: GarbageCollectionOptions,
): Promise<GarbageCollectionReport> {
  const { store, layout, graceMs, logger } = options;
  const now = options.now ?? Date.now;
  const leaseMs = options.leaseMs ?? 120_000;
  const runId = `${new Date(now()).toISOString().replace(/[:.]/g, '-')}-${randomUUID().slice(0, 8)}`;
  const lockKey = layout.gcLockKey();
  let lock: GcLock = { runId, leaseMs, startedAtMs: now(), candidatesKey: null };
  let lockWrittenAtMs = 0;

  async function acquire(): Promise<void> {
    for (let attempt = 0; attempt < 2; attempt++) {
      if ((await store.put(lockKey, encodeGcLock(lock), { ifNoneMatch: true })) === 'created') {
        lockWrittenAtMs = now();
        return;
      }
      const state = await readGcLock(store, layout);
      if (isLockLive(state, now()))
        throw new TargetError(
          'EXTENTLOG_ERR_TARGET_GC',
          `garbage collection ${state.lock.runId} holds ${store.url}${lockKey} (written ${new Date(state.writtenAtMs).toISOString()}, lease ${state.lock.leaseMs} ms): wait for it to finish`,
          { details: { runId: state.lock.runId } },
        );
      logger.warn({ lockKey }, 's3 gc: removing a stale lock');
      await store.delete([lockKey]);
    }
    throw new TargetError('EXTENTLOG_ERR_TARGET_GC', `could not take ${store.url}${lockKey}`);
  }

  async function renew(force = false): Promise<void> {
    if (!force && now() - lockWrittenAtMs < leaseMs / 3) return;
    const state = await readGcLock(store, layout);
    if (state?.lock.runId !== runId || now() - lockWrittenAtMs >= leaseMs)
      throw new TargetError(
        'EXTENTLOG_ERR_TARGET_GC',
        `garbage collection ${runId} lost ${store.url}${lockKey} (its lease of ${leaseMs} ms ran out); it stopped deleting`,
      );
    await store.put(lockKey, encodeGcLock(lock));
    lockWrittenAtMs = now();
  }

  /**
   * Every chunk name the manifests refer to. A manifest that retention deletes between the
   * listing and its reading may have been the one protecting chunks that newer manifests,
   * written after the listing, carried forward; so the listing starts over until every
   * listed manifest was read.
   */
  async function readEveryManifest(keepLock: () => Promise<void>) {
    for (let attempt = 1; ; attempt++) {
      const referenced = new Set<string>();
      const newestEpoch = new Map<string, number>();
      const manifests = await listManifests(store, layout);
      let vanished = false;
      for (const entry of manifests) {
        const body = await store.get(entry.key);
        await keepLock();
        if (body === null) {
          vanished = true;
          break;
        }
        const manifest = decodeManifest(body, `${store.url}${entry.key}`);
        for (const [, name] of manifest.chunks.entries()) referenced.add(name);
        const disk = `${entry.feed}/${entry.diskId}`;
        newestEpoch.set(disk, Math.max(newestEpoch.get(disk) ?? -1, entry.epoch));
      }
      if (!vanished) return { referenced, newestEpoch, manifests };
      if (attempt === 20)
        throw new TargetError(
          'EXTENTLOG_ERR_TARGET_GC',
          `manifests under ${store.url}${layout.manifestsPrefix()} kept vanishing while they were read (retention running?); try again`,
        );
    }
  }

  await acquire();
  const startedAtMs = (await store.head(lockKey))?.lastModifiedMs ?? now();
  lock = { ...lock, startedAtMs };
  const cutoffMs = startedAtMs - graceMs;
  try {
    // 2. Journals, then manifests.
    const journals: { key: string; disk: string; epoch: number; names: string[] }[] = [];
    for await (const object of store.list(layout.pendingPrefix())) {
      const parts = parsePendingKey(layout, object.key);
      const body = parts === null ? null : await store.get(object.key);
      if (parts === null || body === null) continue;
      const segment = decodePendingSegment(body, `${store.url}${object.key}`);
      journals.push({
        key: object.key,
        disk: `${parts.feed}/${parts.diskId}`,
        epoch: parts.epoch,
        names: segment.changes.flatMap(([, name]) => (name === null ? [] : [name])),
      });
      await renew();
    }
    const { referenced, newestEpoch, manifests } = await readEveryManifest(renew);
    const superseded = journals.filter((j) => j.epoch <= (newestEpoch.get(j.disk) ?? -1));
    for (const journal of journals)
      if (!superseded.includes(journal)) for (const name of journal.names) referenced.add(name);

    // 3. Candidates.
    const candidates: { key: string; name: string; sizeBytes: number }[] = [];
    let chunksListed = 0;
    let youngUnreferenced = 0;
    for await (const object of store.list(layout.chunksPrefix())) {
      const name = parseChunkKey(layout, object.key);
      if (name === null) continue;
      chunksListed++;
      if (referenced.has(name)) continue;
      if (object.lastModifiedMs < cutoffMs)
        candidates.push({ key: object.key, name, sizeBytes: object.sizeBytes });
      else youngUnreferenced++;
    }
    await renew();

    // 4. Announce, then delete.
    let deletedChunks = 0;
    let deletedBytes = 0;
    const candidatesKey = layout.gcCandidatesKey(runId);
    if (!options.dryRun && candidates.length > 0) {
      await store.put(candidatesKey, Buffer.from(JSON.stringify(candidates.map((c) => c.name))));
      lock = { ...lock, candidatesKey };
      await renew(true);
      for (let index = 0; index < candidates.length; index += DELETE_BATCH) {
        const batch = candidates.slice(index, index + DELETE_BATCH);
        const stillOld = await Promise.all(
          batch.map(async (candidate) => {
            const head = await store.head(candidate.key);
            return head !== null && head.lastModifiedMs < cutoffMs ? candidate : null;
          }),
        );
        await renew();
        const doomed = stillOld.filter((candidate) => candidate !== null);
        if (doomed.length > 0) await store.delete(doomed.map((candidate) => candidate.key));
        deletedChunks += doomed.length;
        deletedBytes += doomed.reduce((sum, candidate) => sum + candidate.sizeBytes, 0);
      }
    }

    // 5. Leftovers.
    let journalsRemoved = 0;
    let uploadsAborted = 0;
    if (!options.dryRun) {
      if (superseded.length > 0) await store.delete(superseded.map((journal) => journal.key));
      journalsRemoved = superseded.length;
      uploadsAborted = await store.abortUploads(layout.chunksPrefix(), cutoffMs);
      if (lock.candidatesKey !== null) await store.delete([candidatesKey]);
    }
    const report: GarbageCollectionReport = {
      runId,
      startedAtMs,
      manifests: manifests.length,
      referencedChunks: referenced.size,
      chunksListed,
      candidates: candidates.length,
      deletedChunks,
      deletedBytes,
      youngUnreferenced,
      journalsRemoved,
      uploadsAborted,
    };
    logger.info(report, 's3 gc: done');
    return report;
  } finally {
    const state = await readGcLock(store, layout).catch(() => null);
    if (state?.lock.runId === runId) await store.delete([lockKey]).catch(() => undefined);
  }
}
