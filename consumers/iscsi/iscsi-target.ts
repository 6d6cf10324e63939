/**
 * The iSCSI target: each disk replicated onto a LUN of an iSCSI target (RFC 7143, SBC-4),
 * through the iscsi addon over libiscsi. `lunFor` says which LUN holds which disk; one session
 * per disk, with one-way or mutual CHAP. A LUN smaller than its disk is refused; a connection
 * that breaks is re-established (lun-connection.ts) and the writes it may have lost are issued
 * again before the next SYNCHRONIZE CACHE (target-disk.ts).
 *
 * A restore point's location is the LUN's URL, iscsi://<portal>/<target IQN>/<lun>. The LUN
 * holds the latest restore point only; `openRestorePoint` reads it back (lun-reader.ts).
 */
import type { Logger } from 'pino';
import { describeError } from '../../errors/extentlog-error.js';
import { NativeError } from '../../native/errors.js';
import * as iscsi from '../../native/iscsi/index.js';
import type { ChapCredentials, IscsiLunAddress } from '../../native/iscsi/index.js';
import { TargetError } from '../errors.js';
import { OpenDisks } from '../open-disks.js';
import type { RestorePoint } from '../../schemas/restore-point.js';
import type { RestorePointReader, Target, TargetDisk, TargetDiskInfo } from '../target.js';
import type { Lun } from './lun.js';
import { openLunConnection } from './lun-connection.js';
import { lunReader } from './lun-reader.js';
import { IscsiTargetDisk, lunTooSmall } from './target-disk.js';

export interface IscsiTargetOptions {
  /** The LUN of a disk; throws a TargetError (EXTENTLOG_ERR_TARGET_CONFIG) for a disk it has none for. */
  readonly lunFor: (disk: DiskOfFeed) => IscsiLunAddress;
  readonly initiatorIqn: string;
  readonly chap?: ChapCredentials;
  readonly targetChap?: ChapCredentials;
  readonly commandTimeoutMs?: number;
  readonly connectTimeoutMs?: number;
  /** How long a command keeps reconnecting after a connection loss before the disk fails. */
  readonly reconnectTimeoutMs?: number;
  readonly maxWriteBytes?: number;
  readonly maxInFlightCommands?: number;
  readonly maxInFlightBytes?: number;
  /** Writes kept for re-issue after a reconnect before a SYNCHRONIZE CACHE is forced. */
  readonly maxUnsyncedBytes?: number;
  readonly logger: Logger;
}

export type DiskOfFeed = Pick<TargetDiskInfo, 'feed' | 'diskId'>;

const MiB = 1024 * 1024;

export function lunUrl(address: IscsiLunAddress): string {
  return `iscsi://${address.portal}/${address.targetIqn}/${address.lun}`;
}

export function createIscsiTarget(options: IscsiTargetOptions): Target {
  iscsi.assertAvailable('the iscsi target');
  const { logger } = options;
  const disks = new OpenDisks();

  function openFailure(disk: DiskOfFeed, address: IscsiLunAddress, error: unknown): unknown {
    if (error instanceof TargetError) return error;
    return new TargetError(
      'EXTENTLOG_ERR_TARGET_OPEN',
      `disk ${disk.diskId} of feed ${disk.feed}: cannot open ${lunUrl(address)}: ${describeError(error)}`,
      {
        cause: error,
        retriable: error instanceof NativeError ? error.retriable : true,
        details: { diskId: disk.diskId, feed: disk.feed, lun: lunUrl(address) },
      },
    );
  }

  async function connect(disk: DiskOfFeed): Promise<{ lun: Lun; address: IscsiLunAddress }> {
    const address = options.lunFor(disk);
    try {
      const lun = await openLunConnection({
        session: {
          ...address,
          initiatorIqn: options.initiatorIqn,
          ...(options.chap === undefined ? {} : { chap: options.chap }),
          ...(options.targetChap === undefined ? {} : { targetChap: options.targetChap }),
          ...(options.commandTimeoutMs === undefined
            ? {}
            : { commandTimeoutMs: options.commandTimeoutMs }),
          ...(options.connectTimeoutMs === undefined
            ? {}
            : { connectTimeoutMs: options.connectTimeoutMs }),
        },
        ...(options.reconnectTimeoutMs === undefined
          ? {}
          : { reconnectTimeoutMs: options.reconnectTimeoutMs }),
        ...(options.maxWriteBytes === undefined ? {} : { maxWriteBytes: options.maxWriteBytes }),
        logger,
      });
      return { lun, address };
    } catch (error) {
      throw openFailure(disk, address, error);
    }
  }

  async function openDisk(disk: TargetDiskInfo): Promise<TargetDisk> {
    const { lun, address } = await connect(disk);
    if (lun.geometry.sizeBytes < disk.sizeBytes) {
      await lun.close();
      throw lunTooSmall(disk.diskId, lun, disk.sizeBytes, lun.geometry);
    }
    const targetDisk = new IscsiTargetDisk({
      diskId: disk.diskId,
      lun,
      location: lunUrl(address),
      maxInFlightCommands: options.maxInFlightCommands ?? 32,
      maxInFlightBytes: options.maxInFlightBytes ?? 64 * MiB,
      maxUnsyncedBytes: options.maxUnsyncedBytes ?? 256 * MiB,
      logger,
    });
    logger.info(
      { diskId: disk.diskId, lun: lun.description, geometry: lun.geometry },
      'iscsi target: disk opened',
    );
    return disks.track(targetDisk);
  }

  async function openRestorePoint(
    point: RestorePoint,
    newest: RestorePoint,
  ): Promise<RestorePointReader> {
    const disk = { feed: point.feed, diskId: point.disk };
    if (point.epoch !== newest.epoch)
      throw new TargetError(
        'EXTENTLOG_ERR_TARGET_POINT_UNAVAILABLE',
        `disk ${point.disk} of feed ${point.feed}: the iscsi target ${point.target} holds only its latest restore point (epoch ${newest.epoch}) on ${lunUrl(options.lunFor(disk))}; epoch ${point.epoch} was overwritten by later epochs: ask for epoch ${newest.epoch}`,
        {
          details: {
            diskId: point.disk,
            feed: point.feed,
            epoch: point.epoch,
            latestEpoch: newest.epoch,
          },
        },
      );
    const { lun, address } = await connect(disk);
    if (lun.geometry.sizeBytes < point.diskSizeBytes) {
      await lun.close();
      throw new TargetError(
        'EXTENTLOG_ERR_TARGET_POINT_UNAVAILABLE',
        `disk ${point.disk} of feed ${point.feed}: ${lunUrl(address)} holds ${lun.geometry.sizeBytes} bytes, but the disk had ${point.diskSizeBytes} at epoch ${point.epoch}: the LUN is not this disk's replica`,
        {
          details: {
            diskId: point.disk,
            feed: point.feed,
            lun: lunUrl(address),
            lunBytes: lun.geometry.sizeBytes,
            diskBytes: point.diskSizeBytes,
          },
        },
      );
    }
    return lunReader(lun, point.disk, point.diskSizeBytes);
  }

  return {
    kind: 'iscsi',
    openDisk,
    openRestorePoint,
    close: () => disks.closeAll(),
  };
}

/**
 * `lunFor` from a list of disks and a default: each entry names a disk (and optionally its
 * feed) and its LUN; `portal` applies where an entry gives none.
 */
export function lunTable(
  portal: string,
  luns: readonly {
    readonly feed?: string;
    readonly disk: string;
    readonly targetIqn: string;
    readonly lun: number;
    readonly portal?: string;
  }[],
): (disk: DiskOfFeed) => IscsiLunAddress {
  return (disk) => {
    const entry =
      luns.find((candidate) => candidate.disk === disk.diskId && candidate.feed === disk.feed) ??
      luns.find((candidate) => candidate.disk === disk.diskId && candidate.feed === undefined);
    if (entry === undefined)
      throw new TargetError(
        'EXTENTLOG_ERR_TARGET_CONFIG',
        `iscsi target: no LUN is configured for disk ${disk.diskId} of feed ${disk.feed}; add it to luns (disks configured: ${luns.map((candidate) => candidate.disk).join(', ') || 'none'})`,
        { details: { diskId: disk.diskId, feed: disk.feed } },
      );
    return { portal: entry.portal ?? portal, targetIqn: entry.targetIqn, lun: entry.lun };
  };
}
