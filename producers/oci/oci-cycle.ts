/**
 * One cycle of the OCI source over a volume restored for it and attached over iSCSI:
 *
 *   INCREMENTAL  the volume holds the blocks that changed between two backups
 *                (volumeBackupDelta): its changed ranges, found with GET LBA STATUS, are WRITE
 *                extents, read from the volume.
 *   FULL         the volume is a whole backup: mapped ranges are WRITE, deallocated ones
 *                ZERO, so the extents cover the disk.
 *
 * Ranges are widened to the disk's block size (the change block size) and merged, so
 * extents stay aligned to it. `commit()` and `abort()` release the volume (close the session,
 * detach, delete); the backup stays, the next cycle's reference.
 */
import type { Logger } from 'pino';
import { describeError } from '../../errors/extentlog-error.js';
import type { IscsiSession } from '../../native/iscsi/index.js';
import { SourceError } from '../errors.js';
import { CycleLifecycle, readOutOfRange } from '../cycle-lifecycle.js';
import {
  cycleBasis,
  type BlockReader,
  type ChangedExtent,
  type ChangeSet,
  type DiskInfo,
  type Provenance,
} from '../source.js';
import { scanLbaStatus } from './lba-status-scanner.js';

export interface OciCycleOptions {
  readonly disk: DiskInfo;
  readonly mode: 'FULL' | 'INCREMENTAL';
  readonly reference: string;
  readonly baseReference: string | null;
  readonly rebaselineReason?: string;
  readonly session: IscsiSession;
  readonly lunBlockSizeBytes: number;
  readonly scanWindowBytes?: number;
  readonly snapshotTimeNs: bigint;
  readonly provenance: Provenance;
  /** Closes the session, detaches and deletes the volume. */
  readonly release: () => Promise<void>;
  readonly logger: Logger;
}

export function createOciCycle(options: OciCycleOptions): ChangeSet {
  const { disk, session, lunBlockSizeBytes, logger } = options;
  const lifecycle = new CycleLifecycle(disk.diskId, options.reference);

  function extent(startBytes: number, endBytes: number, op: 'WRITE' | 'ZERO'): ChangedExtent {
    return {
      kind: 'extent',
      offsetBytes: startBytes,
      lengthBytes: endBytes - startBytes,
      op,
      issuedAtNs: options.snapshotTimeNs,
      completedAtNs: options.snapshotTimeNs,
      provenance: options.provenance,
    };
  }

  async function* scan(): AsyncGenerator<ChangedExtent> {
    const blockSizeBytes = disk.blockSizeBytes;
    const align = (bytes: number, up: boolean) =>
      Math.min(
        disk.sizeBytes,
        (up ? Math.ceil : Math.floor)(bytes / blockSizeBytes) * blockSizeBytes,
      );
    let pending: { startBytes: number; endBytes: number; op: 'WRITE' | 'ZERO' } | null = null;
    const ranges = scanLbaStatus({
      device: session,
      blocks: Math.ceil(disk.sizeBytes / lunBlockSizeBytes),
      blockSizeBytes: lunBlockSizeBytes,
      mode: options.mode === 'INCREMENTAL' ? 'changed' : 'allocation',
      ...(options.scanWindowBytes === undefined ? {} : { windowBytes: options.scanWindowBytes }),
      onFallback: (reason) =>
        logger.warn(
          { diskId: disk.diskId, lun: session.description, reason },
          'oci source: the volume does not take GET LBA STATUS(32); scanning with GET LBA STATUS(16)',
        ),
    });
    try {
      for await (const range of ranges) {
        // Data widens to whole blocks and unmapped shrinks to them: a block that is partly
        // data is read whole, and the two never overlap.
        const op = range.kind === 'data' ? 'WRITE' : 'ZERO';
        const startBytes = align(range.startBytes, op === 'ZERO');
        const endBytes = align(range.endBytes, op === 'WRITE');
        if (endBytes <= startBytes) continue;
        if (pending !== null && pending.op === op && startBytes <= pending.endBytes) {
          pending.endBytes = Math.max(pending.endBytes, endBytes);
          continue;
        }
        if (pending !== null) yield extent(pending.startBytes, pending.endBytes, pending.op);
        pending = { startBytes, endBytes, op };
      }
    } catch (error) {
      if (error instanceof SourceError) throw error;
      throw new SourceError(
        'EXTENTLOG_ERR_SOURCE_CHANGE_SCAN',
        `disk ${disk.diskId}: scanning ${session.description} failed: ${describeError(error)}`,
        { cause: error, details: { diskId: disk.diskId } },
      );
    }
    if (pending !== null) yield extent(pending.startBytes, pending.endBytes, pending.op);
  }

  function changes(): AsyncGenerator<ChangedExtent> {
    return lifecycle.scan(scan);
  }

  const reader: BlockReader = {
    async read(offsetBytes, lengthBytes) {
      const outside = readOutOfRange(disk, offsetBytes, lengthBytes);
      if (outside !== null) throw outside;
      if (lengthBytes === 0) return Buffer.alloc(0);
      const firstLba = Math.floor(offsetBytes / lunBlockSizeBytes);
      const endLba = Math.ceil((offsetBytes + lengthBytes) / lunBlockSizeBytes);
      const skip = offsetBytes - firstLba * lunBlockSizeBytes;
      try {
        const blocks = await session.read16(
          firstLba,
          lunBlockSizeBytes,
          Buffer.allocUnsafe((endLba - firstLba) * lunBlockSizeBytes),
        );
        return blocks.subarray(skip, skip + lengthBytes);
      } catch (error) {
        throw new SourceError(
          'EXTENTLOG_ERR_SOURCE_READ',
          `disk ${disk.diskId}: reading ${lengthBytes} bytes at offset ${offsetBytes} from ${session.description} failed: ${describeError(error)}`,
          { cause: error, details: { diskId: disk.diskId, offsetBytes, lengthBytes } },
        );
      }
    },
  };

  return {
    disk,
    ...cycleBasis(options.mode, options),
    changes,
    reader,
    async commit() {
      lifecycle.beginCommit();
      await options.release();
    },
    async abort(reason) {
      if (!lifecycle.beginAbort()) return;
      logger.info(
        { diskId: disk.diskId, reference: options.reference, reason: String(reason) },
        'oci source: cycle aborted; releasing its volume, the previous backup stays the reference',
      );
      await options.release();
    },
  };
}
