/**
 * The garbage collector's lock, `gc/lock.json`: at most one collection runs per bucket
 * prefix. It is created with a create-only write, renewed (rewritten) while the collection
 * runs, and counts as held while its last write is younger than its lease. Writers read it
 * to learn whether a collection that may delete a chunk they just touched is running:
 *
 *   { "runId": "…", "leaseMs": 60000, "startedAtMs": …, "candidatesKey": null | "gc/candidates/<run>.json" }
 *
 * `candidatesKey` is set once the collection has decided which chunks it will delete (it
 * deletes no others); before that, any old chunk may be among them.
 */
import type { BucketLayout } from './bucket-layout.js';
import type { ObjectStore } from './object-store.js';

export interface GcLock {
  readonly runId: string;
  readonly leaseMs: number;
  readonly startedAtMs: number;
  readonly candidatesKey: string | null;
}

export interface GcLockState {
  readonly lock: GcLock;
  /** When the lock was last written (server clock). */
  readonly writtenAtMs: number;
}

export function encodeGcLock(lock: GcLock): Buffer {
  return Buffer.from(JSON.stringify(lock), 'utf8');
}

/** The lock as it is now, or null when there is none (or it is unreadable). */
export async function readGcLock(
  store: ObjectStore,
  layout: BucketLayout,
): Promise<GcLockState | null> {
  const key = layout.gcLockKey();
  const head = await store.head(key);
  if (head === null) return null;
  const body = await store.get(key);
  if (body === null) return null;
  try {
    const lock = JSON.parse(body.toString('utf8')) as GcLock;
    if (typeof lock.runId !== 'string' || !Number.isFinite(lock.leaseMs)) return null;
    return { lock, writtenAtMs: head.lastModifiedMs };
  } catch {
    return null;
  }
}

export function isLockLive(state: GcLockState | null, nowMs: number): state is GcLockState {
  return state !== null && nowMs - state.writtenAtMs < state.lock.leaseMs;
}

/** The chunk names a collection announced it will delete. */
export async function readCandidates(store: ObjectStore, key: string): Promise<Set<string>> {
  const body = await store.get(key);
  if (body === null) return new Set();
  return new Set(JSON.parse(body.toString('utf8')) as string[]);
}
