/**
 * One cycle of the rbd source over an image opened read-only at the cycle's snapshot: the
 * changes come from `rbd_diff_iterate2` (from the base snapshot, or from the image's
 * creation for FULL), the data from `rbd_aio_read` of the snapshot. `commit()` removes the
 * previous cycle's snapshot, `abort()` this cycle's own; either closes the image.
 */
import type { Logger } from 'pino';
import type { RbdImage } from '../../native/rbd/index.js';
import { CycleLifecycle, readOutOfRange } from '../cycle-lifecycle.js';
import type { ChangeSet, ChangedExtent, DiskInfo, SyncMode } from '../source.js';
import { cephError } from './ceph-connection.js';
import { planExtents } from './diff-extents.js';
import { formatReference, type RbdVolume } from './rbd-snapshots.js';

/** Where a cycle starts from (chosen by the source from the committed reference). */
export interface RbdBase {
  readonly mode: SyncMode;
  /** The snapshot to diff from; null for FULL. */
  readonly fromSnap: string | null;
  /** The previous cycle's snapshot, removed on commit (when it still exists). */
  readonly previousSnap: string | null;
  readonly rebaselineReason?: string;
}

export interface RbdCycleOptions {
  readonly disk: DiskInfo;
  readonly volume: RbdVolume;
  readonly image: RbdImage;
  readonly snapName: string;
  readonly base: RbdBase;
  /** Removes a snapshot, logging rather than failing (the cycle's outcome stands). */
  readonly removeSnapshot: (snapName: string, why: string) => Promise<void>;
  readonly logger: Logger;
  readonly onSettled: () => void;
}

export function createRbdCycle(options: RbdCycleOptions): ChangeSet {
  const { disk, volume, image, snapName, base, removeSnapshot, logger } = options;
  const reference = formatReference(volume, snapName);
  const lifecycle = new CycleLifecycle(disk.diskId, reference);
  const snapshotTimeNs = BigInt(Date.now()) * 1_000_000n;

  async function* diffExtents(): AsyncGenerator<ChangedExtent> {
    const ranges = await image.diff(base.fromSnap, 0, disk.sizeBytes).catch((error: unknown) => {
      throw cephError(
        error,
        {},
        `rbd source: diff of ${reference} from ${base.fromSnap ?? "the image's creation"}`,
      );
    });
    yield* planExtents(ranges, disk.sizeBytes, disk.blockSizeBytes, base.mode === 'FULL', {
      issuedAtNs: snapshotTimeNs,
      completedAtNs: snapshotTimeNs,
      provenance: { snapshotId: snapName },
    });
  }

  async function close() {
    try {
      await image.close();
    } finally {
      options.onSettled();
    }
  }

  return {
    disk,
    mode: base.mode,
    reference,
    baseReference: base.fromSnap === null ? null : formatReference(volume, base.fromSnap),
    ...(base.rebaselineReason === undefined ? {} : { rebaselineReason: base.rebaselineReason }),
    changes: () => lifecycle.scan(diffExtents),
    reader: {
      async read(offsetBytes, lengthBytes) {
        const outside = readOutOfRange(disk, offsetBytes, lengthBytes);
        if (outside !== null) throw outside;
        return image.read(offsetBytes, lengthBytes).catch((error: unknown) => {
          throw cephError(error, {}, `rbd source: reading ${reference}`);
        });
      },
    },
    async commit() {
      lifecycle.beginCommit();
      await close();
      if (base.previousSnap !== null && base.previousSnap !== snapName)
        await removeSnapshot(base.previousSnap, 'the previous cycle’s');
      logger.debug({ diskId: disk.diskId, reference }, 'rbd source: cycle committed');
    },
    async abort(reason) {
      if (!lifecycle.beginAbort()) return;
      await close();
      logger.info(
        { diskId: disk.diskId, reference, reason: String(reason) },
        'rbd source: cycle aborted; its snapshot is removed, the previous one kept',
      );
      await removeSnapshot(snapName, 'an aborted cycle’s');
    },
  };
}
