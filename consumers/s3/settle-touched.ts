/**
 * Settling touched chunks: the writer's half of the garbage-collection protocol
 * (garbage-collector.ts has the whole of it). A chunk a writer found already in the bucket
 * and touched may have been chosen for deletion, before the touch, by a collection that is
 * still running. So, before a journal segment or manifest refers to such chunks, the writer
 * waits until no running collection has any of them among its announced candidates (or
 * until it ends), then checks that each still exists. One that vanished fails the flush
 * with a retriable error: the replay engine re-applies the records since the last
 * committed offset, which uploads the chunk again.
 */
import { TargetError } from '../errors.js';
import type { BucketLayout } from './bucket-layout.js';
import { isLockLive, readCandidates, readGcLock } from './gc-lock.js';
import type { ObjectStore } from './object-store.js';

export interface SettleOptions {
  readonly store: ObjectStore;
  readonly layout: BucketLayout;
  /** How often the lock is read again while a collection runs. */
  readonly pollMs: number;
  /** Gives up (retriable) when a collection holds its lock longer than this. */
  readonly timeoutMs: number;
  readonly now: () => number;
}

/**
 * `sinceMs`: when the writer first relied on any of `names` (found them, or touched them);
 * a collection that started later cannot have chosen them, as they were younger than its
 * cutoff by then.
 */
export async function settleTouchedChunks(
  names: readonly string[],
  sinceMs: number,
  options: SettleOptions,
) {
  const { store, layout, now } = options;
  const deadline = now() + options.timeoutMs;
  const candidatesByRun = new Map<string, Set<string>>();
  for (;;) {
    const state = await readGcLock(store, layout);
    if (!isLockLive(state, now())) break;
    const { runId, candidatesKey, startedAtMs } = state.lock;
    if (startedAtMs > sinceMs) break;
    if (candidatesKey !== null) {
      let candidates = candidatesByRun.get(runId);
      if (candidates === undefined) {
        candidates = await readCandidates(store, candidatesKey);
        candidatesByRun.set(runId, candidates);
      }
      if (!names.some((name) => candidates.has(name))) break;
    }
    if (now() > deadline)
      throw new TargetError(
        'EXTENTLOG_ERR_TARGET_GC',
        `garbage collection ${runId} has held ${store.url}${layout.gcLockKey()} for longer than ${options.timeoutMs} ms while chunks this epoch relies on may be among its candidates; the records are applied again after a back-off`,
        { details: { runId } },
      );
    await new Promise((resolve) => setTimeout(resolve, options.pollMs));
  }
  const missing: string[] = [];
  await Promise.all(
    names.map(async (name) => {
      if ((await store.head(layout.chunkKey(name))) === null) missing.push(name);
    }),
  );
  if (missing.length > 0)
    throw new TargetError(
      'EXTENTLOG_ERR_TARGET_CHUNK_MISSING',
      `${missing.length} chunk(s) this epoch found in the bucket were deleted by a garbage collection before the epoch referred to them (first: ${store.url}${layout.chunkKey(missing[0]!)}); the records are applied again, which uploads them`,
      { retriable: true, details: { missing: missing.slice(0, 10) } },
    );
}
