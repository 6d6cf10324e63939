/**
 * One cycle of the QEMU source over its point-in-time view: an NBD client on the view's
 * export yields the changes (FULL: `base:allocation` of the whole disk; INCREMENTAL: the
 * old bitmap's dirty ranges) and reads the data. `commit()` (after SyncCommit) closes the
 * client and lets the view drop the old bitmap; `abort()` drops the client and lets the
 * view keep the old bitmap tracking — the next cycle then reads everything since it again.
 */
import type { Logger } from 'pino';
import { CycleLifecycle } from '../cycle-lifecycle.js';
import { allocationExtents, dirtyExtents } from '../nbd/changed-extents.js';
import { BASE_ALLOCATION } from '../nbd/nbd-constants.js';
import { NbdClient } from '../nbd/nbd-client.js';
import { nbdBlockReader } from '../nbd/nbd-block-reader.js';
import { cycleBasis, type ChangedExtent, type ChangeSet, type DiskInfo } from '../source.js';
import type { PointInTimeView } from './point-in-time-view.js';

export interface QemuCycleOptions {
  readonly diskId: string;
  readonly blockSizeBytes: number;
  readonly view: PointInTimeView;
  readonly reference: string;
  readonly baseReference: string | null;
  readonly rebaselineReason?: string;
  /** Recorded as the snapshot id of every extent (the new bitmap's name). */
  readonly snapshotId: string;
  readonly nbdConnections: number;
  readonly maxRequestBytes: number;
  readonly logger: Logger;
  readonly onSettled: () => void;
}

export async function openQemuCycle(options: QemuCycleOptions): Promise<ChangeSet> {
  const { view, diskId, logger } = options;
  let client: NbdClient;
  try {
    client = await NbdClient.connect({
      address: view.address,
      exportName: view.exportName,
      metaContexts: [BASE_ALLOCATION, ...(view.dirtyContext === null ? [] : [view.dirtyContext])],
      connections: options.nbdConnections,
      maxRequestBytes: options.maxRequestBytes,
    });
  } catch (error) {
    await view
      .abort()
      .catch((abortError: unknown) =>
        logger.warn({ err: abortError, diskId }, 'qemu source: releasing the view failed'),
      );
    throw error;
  }
  const disk: DiskInfo = {
    diskId,
    sizeBytes: client.sizeBytes,
    blockSizeBytes: options.blockSizeBytes,
  };
  const openedAtNs = BigInt(Date.now()) * 1_000_000n;
  const extra = {
    issuedAtNs: openedAtNs,
    completedAtNs: openedAtNs,
    provenance: { snapshotId: options.snapshotId },
  };
  const lifecycle = new CycleLifecycle(diskId, options.reference);
  const changes = (): AsyncGenerator<ChangedExtent> =>
    lifecycle.scan(() =>
      view.dirtyContext === null
        ? allocationExtents(client, disk, extra)
        : dirtyExtents(client, disk, view.dirtyContext, extra),
    );

  return {
    disk,
    ...cycleBasis(view.dirtyContext === null ? 'FULL' : 'INCREMENTAL', options),
    changes,
    reader: nbdBlockReader(client, disk),
    async commit() {
      lifecycle.beginCommit();
      try {
        await client.close();
        await view.commit();
      } finally {
        options.onSettled();
      }
      logger.debug({ diskId, reference: options.reference }, 'qemu source cycle committed');
    },
    async abort(reason) {
      if (!lifecycle.beginAbort()) return;
      client.destroy();
      try {
        await view.abort();
      } finally {
        options.onSettled();
      }
      logger.info(
        { diskId, reference: options.reference, reason: String(reason) },
        'qemu source cycle aborted; the previous bitmap keeps tracking',
      );
    },
  };
}
