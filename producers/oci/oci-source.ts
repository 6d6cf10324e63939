/**
 * The Oracle Cloud Infrastructure source: changed blocks from two Block Volume backups, as the
 * "Direct APIs for Changed Block Tracking Between Two Backups" describe. Each cycle of a disk:
 *
 *   1. a volume group backup (INCREMENTAL) of the disks' volume group — shared by the disks
 *      of one round, so the group is captured at one point in time (group-backup-rounds.ts);
 *   2. CreateVolume from the previous and the current backup of the disk's volume
 *      (sourceDetails volumeBackupDelta: firstBackupId, secondBackupId,
 *      changeBlockSizeInBytes) — or, for the first cycle or when the previous backup is gone,
 *      from the current backup alone (volumeBackup), a FULL cycle;
 *   3. AttachVolume (iscsi, CHAP) to `instanceId`, the instance extentlog runs on, and an
 *      iSCSI session with the attachment's address and CHAP credentials;
 *   4. GET LBA STATUS(32) in windows of at most 1 GiB finds the changed blocks, which are read
 *      and published (oci-cycle.ts);
 *   5. once the SyncCommit is in the log: detach and delete the volume; the current backup
 *      is the reference the next cycle starts from (read back from the log).
 *
 * References are `oci-volume-backup:<volume backup OCID>`.
 */
import { ConfiguredDisks, isPowerOfTwoWithin } from '../configured-disks.js';
import type { Logger } from 'pino';
import { describeError } from '../../errors/extentlog-error.js';
import { IscsiSession } from '../../native/iscsi/index.js';
import { SourceError } from '../errors.js';
import type { ChangeSet, ChangeSource, CommittedReference, DiskInfo } from '../source.js';
import { GroupBackupRounds } from './group-backup-rounds.js';
import {
  ociSizeBytes,
  type OciClient,
  type VolumeBackup,
  type VolumeSourceDetails,
} from './oci-client.js';
import { createOciCycle } from './oci-cycle.js';

export interface OciDiskConfig {
  readonly diskId: string;
  readonly volumeId: string;
}

export interface OciSourceOptions {
  readonly client: OciClient;
  readonly volumeGroupId: string;
  readonly compartmentId: string;
  readonly availabilityDomain: string;
  /** The instance the restored volumes are attached to: the one this process runs on. */
  readonly instanceId: string;
  readonly disks: readonly OciDiskConfig[];
  /** A power of two from 4 KiB to 1 MiB (OCI's range); the disks' block size. */
  readonly changeBlockSizeBytes?: number;
  /** GET LBA STATUS scan window, at most (and by default) 1 GiB. */
  readonly scanWindowBytes?: number;
  readonly initiatorIqn: string;
  readonly iscsiCommandTimeoutMs?: number;
  readonly logger: Logger;
}

const REFERENCE_PREFIX = 'oci-volume-backup:';

export function backupReference(backupId: string): string {
  return `${REFERENCE_PREFIX}${backupId}`;
}

function configError(message: string): SourceError {
  return new SourceError('EXTENTLOG_ERR_SOURCE_CONFIG', `oci source: ${message}`);
}

export function createOciSource(options: OciSourceOptions): ChangeSource {
  const { client, logger } = options;
  const changeBlockSizeBytes = options.changeBlockSizeBytes ?? 4096;
  if (!isPowerOfTwoWithin(changeBlockSizeBytes, 4096, 1024 * 1024))
    throw configError(
      `changeBlockSizeBytes must be a power of two from 4096 to 1048576, received ${changeBlockSizeBytes}`,
    );
  if (options.disks.length === 0) throw configError('disks must name at least one disk');
  const byId = new Map<string, OciDiskConfig>();
  for (const disk of options.disks) {
    if (byId.has(disk.diskId)) throw configError(`disk id ${disk.diskId} is configured twice`);
    byId.set(disk.diskId, disk);
  }
  const rounds = new GroupBackupRounds(client, options.volumeGroupId, logger);
  const openCycles = new Set<ChangeSet>();
  const configured = new ConfiguredDisks('oci', byId);

  async function diskInfo(config: OciDiskConfig): Promise<DiskInfo> {
    const volume = await client.getVolume(config.volumeId);
    return {
      diskId: config.diskId,
      sizeBytes: ociSizeBytes(volume),
      blockSizeBytes: changeBlockSizeBytes,
    };
  }

  /** The previous backup to diff against, or why there is none. */
  async function baseOf(
    config: OciDiskConfig,
    since: CommittedReference | null,
    current: VolumeBackup,
  ): Promise<{ base: VolumeBackup } | { reason?: string }> {
    if (since === null) return {};
    if (!since.reference.startsWith(REFERENCE_PREFIX))
      return { reason: `the committed reference ${since.reference} is not an OCI volume backup` };
    const id = since.reference.slice(REFERENCE_PREFIX.length);
    let base: VolumeBackup;
    try {
      base = await client.getVolumeBackup(id);
    } catch (error) {
      if (error instanceof SourceError && error.details.status === 404)
        return { reason: `the previous backup ${id} no longer exists` };
      throw error;
    }
    if (base.lifecycleState !== 'AVAILABLE')
      return { reason: `the previous backup ${id} is ${base.lifecycleState}` };
    if (base.volumeId !== config.volumeId)
      return {
        reason: `the previous backup ${id} is of volume ${base.volumeId}, not ${config.volumeId}`,
      };
    if (ociSizeBytes(base) !== ociSizeBytes(current))
      return { reason: `volume ${config.volumeId} was resized since backup ${id}` };
    return { base };
  }

  /** Creates the volume, attaches it and logs in; undoes what was done when a step fails. */
  async function attach(diskId: string, sourceDetails: VolumeSourceDetails) {
    const undo: (() => Promise<unknown>)[] = [];
    const release = async () => {
      for (const step of undo.splice(0).reverse())
        await step().catch((error: unknown) =>
          logger.error(
            { diskId, err: error },
            'oci source: releasing a restored volume failed; delete it by hand if it stays',
          ),
        );
    };
    try {
      const created = await client.createVolume({
        compartmentId: options.compartmentId,
        availabilityDomain: options.availabilityDomain,
        displayName: `extentlog-${diskId}-${Date.now()}`,
        sourceDetails,
      });
      const volumeId = created.body.id;
      undo.push(async () => {
        const deleted = await client.deleteVolume(volumeId);
        if (deleted.workRequestId !== null)
          await client.waitForWorkRequest('volume deletion', deleted.workRequestId);
        await client.waitForState('volume', () => client.getVolume(volumeId), ['TERMINATED']);
      });
      if (created.workRequestId !== null)
        await client.waitForWorkRequest('volume', created.workRequestId);
      await client.waitForState('volume', () => client.getVolume(volumeId), ['AVAILABLE']);
      const attached = await client.attachVolume({
        instanceId: options.instanceId,
        volumeId,
        displayName: `extentlog-${diskId}`,
      });
      const attachmentId = attached.body.id;
      undo.push(async () => {
        const detached = await client.detachVolume(attachmentId);
        if (detached.workRequestId !== null)
          await client.waitForWorkRequest('detachment', detached.workRequestId);
        await client.waitForState(
          'volume attachment',
          () => client.getVolumeAttachment(attachmentId),
          ['DETACHED'],
        );
      });
      if (attached.workRequestId !== null)
        await client.waitForWorkRequest('attachment', attached.workRequestId);
      const attachment = await client.waitForState(
        'volume attachment',
        () => client.getVolumeAttachment(attachmentId),
        ['ATTACHED'],
      );
      const session = await IscsiSession.open({
        portal: attachment.ipv4.includes(':')
          ? `[${attachment.ipv4}]:${attachment.port}`
          : `${attachment.ipv4}:${attachment.port}`,
        targetIqn: attachment.iqn,
        lun: 1,
        initiatorIqn: options.initiatorIqn,
        ...(attachment.chapUsername !== undefined && attachment.chapSecret !== undefined
          ? { chap: { username: attachment.chapUsername, secret: attachment.chapSecret } }
          : {}),
        extendedCdbs: true,
        ...(options.iscsiCommandTimeoutMs === undefined
          ? {}
          : { commandTimeoutMs: options.iscsiCommandTimeoutMs }),
      });
      undo.push(() => session.close());
      return { session, volumeId, release };
    } catch (error) {
      await release();
      throw error;
    }
  }

  async function open(requested: DiskInfo, since: CommittedReference | null): Promise<ChangeSet> {
    const config = configured.get(requested.diskId);
    const { diskId, volumeId } = config;
    const disk = await diskInfo(config);
    const round = await rounds.backupFor(diskId, volumeId);
    const current = round.backup;
    const base = await baseOf(config, since, current);
    const mode = 'base' in base ? 'INCREMENTAL' : 'FULL';
    const sourceDetails: VolumeSourceDetails =
      'base' in base
        ? {
            type: 'volumeBackupDelta',
            firstBackupId: base.base.id,
            secondBackupId: current.id,
            changeBlockSizeInBytes: changeBlockSizeBytes,
          }
        : { type: 'volumeBackup', id: current.id };
    const rebaselineReason = 'reason' in base ? base.reason : undefined;
    const { session, volumeId: restoredId, release } = await attach(diskId, sourceDetails);
    try {
      const capacity = await session.readCapacity16();
      if (capacity.sizeBytes < disk.sizeBytes)
        throw new SourceError(
          'EXTENTLOG_ERR_SOURCE_SIZE_CHANGED',
          `disk ${diskId}: the volume restored from backup ${current.id} has ${capacity.sizeBytes} bytes, the disk ${disk.sizeBytes}`,
          { details: { diskId, volumeId: restoredId } },
        );
      logger.info(
        {
          diskId,
          mode,
          backup: current.id,
          base: 'base' in base ? base.base.id : null,
          restoredVolume: restoredId,
          ...(rebaselineReason === undefined ? {} : { rebaselineReason }),
        },
        'oci source: cycle opened',
      );
      const cycle: ChangeSet = createOciCycle({
        disk,
        mode,
        reference: backupReference(current.id),
        baseReference: 'base' in base ? backupReference(base.base.id) : null,
        ...(rebaselineReason === undefined ? {} : { rebaselineReason }),
        session,
        lunBlockSizeBytes: capacity.blockSizeBytes,
        ...(options.scanWindowBytes === undefined
          ? {}
          : { scanWindowBytes: options.scanWindowBytes }),
        snapshotTimeNs: BigInt(round.timeCreatedMs) * 1_000_000n,
        provenance: { snapshotId: current.id },
        release: async () => {
          openCycles.delete(cycle);
          await release();
        },
        logger,
      });
      openCycles.add(cycle);
      return cycle;
    } catch (error) {
      await release();
      if (error instanceof SourceError) throw error;
      throw new SourceError(
        'EXTENTLOG_ERR_SOURCE_OPEN',
        `disk ${diskId}: the volume restored from backup ${current.id} cannot be read: ${describeError(error)}`,
        { cause: error, details: { diskId, volumeId: restoredId } },
      );
    }
  }

  return {
    kind: 'oci',
    async disks() {
      const infos: DiskInfo[] = [];
      for (const config of byId.values()) infos.push(await diskInfo(config));
      return infos;
    },
    open: async (disk, since) => {
      try {
        return await open(disk, since);
      } catch (error) {
        if (error instanceof SourceError) throw error;
        throw new SourceError(
          'EXTENTLOG_ERR_SOURCE_OPEN',
          `oci source: disk ${disk.diskId}: ${describeError(error)}`,
          { cause: error, details: { diskId: disk.diskId } },
        );
      }
    },
    async close() {
      await Promise.allSettled([...openCycles].map((cycle) => cycle.abort('source closed')));
    },
  };
}
