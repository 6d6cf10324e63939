/**
 * The EBS target: every restore point of a disk is an EBS snapshot, written through the
 * EBS direct APIs (`StartSnapshot`, `PutSnapshotBlock`, `CompleteSnapshot`) as the child of
 * the previous one, and tagged with the target, feed, disk, epoch and digest — so AWS is a
 * replication destination: any restore point becomes a volume with EC2 `CreateVolume`.
 * See target-disk.ts for how extents become blocks, snapshot-writer.ts for what is written,
 * snapshot-reader.ts for reading a point back. Older snapshots are kept (one per restore
 * point); their lifecycle is the operator's (Data Lifecycle Manager, a retention script).
 */
import type { EBSClient } from '@aws-sdk/client-ebs';
import type { EC2Client } from '@aws-sdk/client-ec2';
import type { Logger } from 'pino';
import type { AwsCaller } from '../../cloud/aws/aws-caller.js';
import type { SnapshotPolling } from '../../cloud/aws/snapshot-waiter.js';
import type { RestorePoint } from '../../schemas/restore-point.js';
import { TargetError } from '../errors.js';
import type { RestorePointReader, Target, TargetDisk, TargetDiskInfo } from '../target.js';
import { snapshotReader } from './snapshot-reader.js';
import { completedEpochSnapshot } from './target-snapshots.js';
import { EbsTargetDisk, stagingDirOf } from './target-disk.js';
import { targetErrorOf } from './target-errors.js';

export interface EbsTargetOptions {
  /** The target's name: tags its snapshots. */
  readonly name: string;
  readonly ebs: EBSClient;
  readonly ec2: EC2Client;
  readonly caller: AwsCaller;
  /** Local directory for the epochs being staged (room for one epoch's changed blocks per disk). */
  readonly stagingDir: string;
  readonly putConcurrency?: number;
  /** GetSnapshotBlock requests in flight: parent blocks of partial writes, restore point reads. */
  readonly readConcurrency?: number;
  /** StartSnapshot's Timeout: minutes without a written block before AWS fails the snapshot. */
  readonly snapshotTimeoutMinutes?: number;
  readonly polling: SnapshotPolling;
  readonly logger: Logger;
}

export function createEbsTarget(options: EbsTargetOptions): Target {
  const putConcurrency = options.putConcurrency ?? 16;
  const readConcurrency = options.readConcurrency ?? 16;
  const timeoutMinutes = options.snapshotTimeoutMinutes ?? 60;
  for (const [name, value, low, high] of [
    ['putConcurrency', putConcurrency, 1, 256],
    ['readConcurrency', readConcurrency, 1, 256],
    ['snapshotTimeoutMinutes', timeoutMinutes, 10, 4320],
  ] as const)
    if (!Number.isSafeInteger(value) || value < low || value > high)
      throw new TargetError(
        'EXTENTLOG_ERR_TARGET_CONFIG',
        `ebs target ${options.name}: ${name} must be ${low}–${high}, received ${value}`,
      );
  const disks = new Set<TargetDisk>();
  const { caller, ebs, ec2, logger } = options;

  return {
    kind: 'ebs',
    async openDisk(disk: TargetDiskInfo) {
      const key = { target: options.name, feed: disk.feed, diskId: disk.diskId };
      const targetDisk = new EbsTargetDisk({
        caller,
        ebs,
        ec2,
        key,
        stagingDir: stagingDirOf(options.stagingDir, disk.feed, disk.diskId),
        putConcurrency,
        readConcurrency,
        timeoutMinutes,
        polling: options.polling,
        logger,
        onClose: () => disks.delete(targetDisk),
      });
      disks.add(targetDisk);
      return targetDisk;
    },
    async openRestorePoint(point: RestorePoint): Promise<RestorePointReader> {
      let snapshotId = point.location;
      if (snapshotId === null || !snapshotId.startsWith('snap-')) {
        snapshotId = await completedEpochSnapshot(
          caller,
          ec2,
          { target: options.name, feed: point.feed, diskId: point.disk },
          point.epoch,
        ).catch((error: unknown) => {
          throw targetErrorOf(
            error,
            'EXTENTLOG_ERR_TARGET_OPEN',
            `disk ${point.disk}: finding the snapshot of epoch ${point.epoch}`,
          );
        });
      }
      if (snapshotId === null)
        throw new TargetError(
          'EXTENTLOG_ERR_TARGET_POINT_UNAVAILABLE',
          `disk ${point.disk} of feed ${point.feed}: the EBS target ${options.name} holds no snapshot of epoch ${point.epoch} (deleted?)`,
          { details: { diskId: point.disk, epoch: point.epoch } },
        );
      return snapshotReader({
        caller,
        ebs,
        snapshotId,
        diskId: point.disk,
        sizeBytes: point.diskSizeBytes,
        readConcurrency,
      });
    },
    async close() {
      await Promise.allSettled([...disks].map((disk) => disk.close()));
      disks.clear();
    },
  };
}
