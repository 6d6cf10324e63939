/**
 * The iSCSI target: each disk replicated onto a LUN of an iSCSI target (RFC 7143, SBC-4),
 * through the iscsi addon over libiscsi. `lunFor` says which LUN holds which disk; one session
 * per disk, with one-way or mutual CHAP. A LUN smaller than its disk is refused; a connection
 * that breaks is re-established (lun-connection.ts) and the writes it may have lost are issued
 * again before the next SYNCHRONIZE CACHE (target-disk.ts).
 *
 * A restore point's location is the LUN's URL, iscsi://<portal>/<target IQN>/<lun>.
 */
import type { Logger } from 'pino';
import { describeError } from '../../errors/extentlog-error.js';
import { NativeError } from '../../native/errors.js';
import * as iscsi from '../../native/iscsi/index.js';
import type { ChapCredentials, IscsiLunAddress } from '../../native/iscsi/index.js';
import { TargetError } from '../errors.js';
import { OpenDisks } from '../open-disks.js';
import type { Target, TargetDisk, TargetDiskInfo } from '../target.js';
import { openLunConnection } from './lun-connection.js';
import { IscsiTargetDisk, lunTooSmall } from './target-disk.js';

export interface IscsiTargetOptions {
  /** The LUN of a disk; throws a TargetError (EXTENTLOG_ERR_TARGET_CONFIG) for a disk it has none for. */
  readonly lunFor: (disk: TargetDiskInfo) => IscsiLunAddress;
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

const MiB = 1024 * 1024;

export function lunUrl(address: IscsiLunAddress): string {
  return `iscsi://${address.portal}/${address.targetIqn}/${address.lun}`;
}

export function createIscsiTarget(options: IscsiTargetOptions): Target {
  iscsi.assertAvailable('the iscsi target');
  const { logger } = options;
  const disks = new OpenDisks();

  function openFailure(disk: TargetDiskInfo, address: IscsiLunAddress, error: unknown): unknown {
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

  async function openDisk(disk: TargetDiskInfo): Promise<TargetDisk> {
    const address = options.lunFor(disk);
    let lun;
    try {
      lun = await openLunConnection({
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
    } catch (error) {
      throw openFailure(disk, address, error);
    }
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

  return {
    kind: 'iscsi',
    openDisk,
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
): (disk: TargetDiskInfo) => IscsiLunAddress {
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
