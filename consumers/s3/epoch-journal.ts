/**
 * The journal of a disk's open epoch: `pending/<feed>/<disk>/<epoch>/<seq>.json`, one
 * segment per flush that changed slots, each listing the slots changed since the previous
 * one. Together with the base manifest it rebuilds the epoch's chunk map after a crash; it
 * also tells the garbage collector which chunks the open epoch relies on. It is removed once
 * the epoch's manifest exists, and a journal of an older epoch is dropped when a newer epoch
 * of the disk begins (that epoch was abandoned).
 */
import { TargetError } from '../errors.js';
import type { BucketLayout } from './bucket-layout.js';
import { decodePendingSegment, encodePendingSegment, type PendingSegment } from './manifest.js';
import type { ObjectStore } from './object-store.js';

export interface JournalContext {
  readonly store: ObjectStore;
  readonly layout: BucketLayout;
  readonly feed: string;
  readonly diskId: string;
  /** Names the disk in messages. */
  readonly where: string;
}

export type EpochShape = Omit<PendingSegment, 'changes'>;

/** The changes journalled for `shape.epoch`, in order, and the next segment number. */
export async function readJournal(
  context: JournalContext,
  shape: EpochShape,
): Promise<{ changes: [number, string | null][]; nextSeq: number }> {
  const { store, layout, feed, diskId } = context;
  const prefix = layout.pendingPrefix(feed, diskId);
  const stale: string[] = [];
  const changes: [number, string | null][] = [];
  let nextSeq = 0;
  for await (const object of store.list(prefix)) {
    const [epochText, seqText] = object.key.slice(prefix.length).split('/');
    const segmentEpoch = Number(epochText);
    if (segmentEpoch < shape.epoch) stale.push(object.key);
    if (segmentEpoch !== shape.epoch) continue;
    const where = `${store.url}${object.key}`;
    const body = await store.get(object.key);
    if (body === null) continue;
    const segment = decodePendingSegment(body, where);
    if (
      segment.mode !== shape.mode ||
      segment.baseEpoch !== shape.baseEpoch ||
      segment.diskSizeBytes !== shape.diskSizeBytes ||
      segment.chunkSizeBytes !== shape.chunkSizeBytes
    )
      throw new TargetError(
        'EXTENTLOG_ERR_TARGET_MANIFEST',
        `${context.where}: journal ${where} of epoch ${shape.epoch} was written for a ${segment.mode} epoch on base ${segment.baseEpoch} of ${segment.diskSizeBytes} bytes in ${segment.chunkSizeBytes}-byte chunks, not for this one (${shape.mode}, base ${shape.baseEpoch}, ${shape.diskSizeBytes} bytes): two writers share the prefix, or remove the journal by hand`,
      );
    changes.push(...segment.changes.map(([slot, name]) => [slot, name] as [number, string | null]));
    nextSeq = Number(seqText?.slice(0, 10)) + 1;
  }
  if (stale.length > 0) await store.delete(stale);
  return { changes, nextSeq };
}

export async function writeJournalSegment(
  context: JournalContext,
  shape: EpochShape,
  seq: number,
  changes: Iterable<readonly [number, string | null]>,
): Promise<void> {
  const { store, layout, feed, diskId } = context;
  await store.put(
    layout.pendingKey(feed, diskId, shape.epoch, seq),
    encodePendingSegment({ ...shape, changes: [...changes] }),
  );
}

export async function dropJournal(context: JournalContext, epoch: number): Promise<void> {
  const { store, layout, feed, diskId } = context;
  const keys: string[] = [];
  for await (const object of store.list(layout.pendingPrefix(feed, diskId, epoch)))
    keys.push(object.key);
  if (keys.length > 0) await store.delete(keys);
}
