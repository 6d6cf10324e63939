/**
 * The VMware source: changed block tracking of vSphere (VirtualMachine.QueryChangedDiskAreas),
 * agentless. Each cycle:
 *
 *   1. logs in (SessionManager.Login) and finds the VM and its virtual disk;
 *   2. turns change tracking on if it is off (ReconfigVM_Task) — that cycle is FULL;
 *   3. takes a snapshot (CreateSnapshot_Task) and reads its disk's changeId;
 *   4. asks QueryChangedDiskAreas for what changed since the committed changeId ('*' for a
 *      FULL: the allocated areas) — a FileFault or InvalidArgument there means CBT was
 *      reset (the changeId no longer counts): a FULL re-baseline that says so;
 *   5. reads the data from the snapshot over NBD (nbdkit's VDDK plugin, snapshot-export.ts);
 *   6. after SyncCommit, removes the snapshot: the snapshot's changeId becomes the
 *      reference the log holds (`vmware-cbt:<changeId>`). An aborted cycle removes its
 *      snapshot too and leaves the old changeId in place.
 */
import { mkdir } from 'node:fs/promises';
import type { Logger } from 'pino';
import { describeError } from '../../errors/extentlog-error.js';
import { ConfiguredDisks } from '../configured-disks.js';
import { SourceError } from '../errors.js';
import { NbdClient } from '../nbd/nbd-client.js';
import type { ChangeSet, ChangeSource, CommittedReference, DiskInfo } from '../source.js';
import { CBT_RESET_FAULTS, cbtReference, parseCbtReference } from './cbt-reference.js';
import { createCbtCycle } from './cbt-cycle.js';
import { VsphereError } from './errors.js';
import { startSnapshotExport, type SnapshotReaderConfig } from './snapshot-export.js';
import type { ManagedObjectReference } from './soap-xml.js';
import { VimClient, type VimConnectOptions } from './vim-client.js';
import {
  createSnapshot,
  findVirtualMachine,
  queryChangedDiskAreas,
  removeSnapshot,
  setChangeTracking,
  snapshotDisks,
  type DiskChangeInfo,
  type VirtualDiskInfo,
  type VirtualMachineInfo,
} from './vsphere-cbt.js';

export interface VmwareDiskConfig {
  readonly diskId: string;
  /** The VM's managed object id (vm-42) or its name. */
  readonly vm: string;
  /** The virtual disk's device key (2000) or label ('Hard disk 1'); default: the VM's only disk. */
  readonly disk?: number | string;
}

export interface VmwareSourceOptions {
  readonly connection: VimConnectOptions;
  readonly disks: readonly VmwareDiskConfig[];
  readonly snapshotReader: SnapshotReaderConfig;
  /** Sockets of the snapshot NBD servers. */
  readonly workDir: string;
  /** Extents are aligned to it: a power of two, 64 KiB by default. */
  readonly blockSizeBytes?: number;
  /** Quiesce the guest file systems (VMware Tools) when taking the snapshot. */
  readonly quiesce?: boolean;
  readonly nbdConnections?: number;
  readonly maxRequestBytes?: number;
  readonly logger: Logger;
}

const KiB = 1024;

function configError(message: string): SourceError {
  return new SourceError('EXTENTLOG_ERR_SOURCE_CONFIG', `vmware source: ${message}`);
}

function pickDisk(vm: VirtualMachineInfo, wanted: number | string | undefined): VirtualDiskInfo {
  const known = vm.disks.map((disk) => `${disk.key} '${disk.label}'`).join(', ') || 'none';
  const found =
    wanted === undefined
      ? vm.disks.length === 1
        ? vm.disks[0]
        : undefined
      : vm.disks.find((disk) => disk.key === wanted || disk.label === wanted);
  if (found === undefined)
    throw new VsphereError(
      'EXTENTLOG_ERR_VSPHERE_NOT_FOUND',
      wanted === undefined
        ? `VM ${vm.name} (${vm.ref.value}) has ${vm.disks.length} virtual disks (${known}): configure which one by its key or label`
        : `VM ${vm.name} (${vm.ref.value}) has no virtual disk ${JSON.stringify(wanted)} (its disks: ${known})`,
      { details: { vm: vm.ref.value, disk: wanted } },
    );
  return found;
}

export function createVmwareSource(options: VmwareSourceOptions): ChangeSource {
  const blockSizeBytes = options.blockSizeBytes ?? 64 * KiB;
  if ((blockSizeBytes & (blockSizeBytes - 1)) !== 0 || blockSizeBytes < 512)
    throw configError(
      `blockSizeBytes must be a power of two of at least 512, received ${blockSizeBytes}`,
    );
  if (options.disks.length === 0) throw configError('disks must name at least one disk');
  const byId = new Map(options.disks.map((disk) => [disk.diskId, disk]));
  if (byId.size !== options.disks.length) throw configError('a disk id is configured twice');
  const { logger } = options;
  const openCycles = new Set<ChangeSet>();

  const configured = new ConfiguredDisks('vmware', byId);
  const configOf = (diskId: string): VmwareDiskConfig => configured.get(diskId);

  /** Runs `work` with a session, logging in again once if the session expired meanwhile. */
  async function withSession<T>(
    session: { client: VimClient },
    work: (client: VimClient) => Promise<T>,
  ): Promise<T> {
    try {
      return await work(session.client);
    } catch (error) {
      if (!(error instanceof VsphereError && error.details.faultType === 'NotAuthenticated'))
        throw error;
      session.client = await VimClient.connect(options.connection);
      return work(session.client);
    }
  }

  async function open(requested: DiskInfo, since: CommittedReference | null): Promise<ChangeSet> {
    const config = configOf(requested.diskId);
    await mkdir(options.workDir, { recursive: true });
    const session = { client: await VimClient.connect(options.connection) };
    let snapshot: ManagedObjectReference | null = null;
    let release: (() => Promise<void>) | null = null;
    const cleanUp = async () => {
      await release?.().catch((error: unknown) =>
        logger.warn(
          { err: error, diskId: config.diskId },
          'vmware source: stopping the snapshot export failed',
        ),
      );
      if (snapshot !== null) {
        const taken = snapshot;
        await withSession(session, (client) => removeSnapshot(client, taken)).catch(
          (error: unknown) =>
            logger.warn(
              { err: error, diskId: config.diskId, snapshot: taken.value },
              'vmware source: removing the snapshot failed; remove it in vSphere',
            ),
        );
      }
      await session.client.logout().catch(() => undefined);
    };
    try {
      const vm = await findVirtualMachine(session.client, config.vm);
      const diskInfo = pickDisk(vm, config.disk);
      const sinceChangeId = since === null ? null : parseCbtReference(since.reference);
      let rebaselineReason: string | undefined;
      if (since !== null && sinceChangeId === null)
        rebaselineReason = `the committed reference '${since.reference}' (epoch ${since.epoch}) is not a VMware changeId`;
      if (!vm.changeTrackingEnabled) {
        await setChangeTracking(session.client, vm.ref, true);
        logger.warn(
          { diskId: config.diskId, vm: vm.ref.value },
          'vmware source: turned change tracking on',
        );
        if (since !== null)
          rebaselineReason ??= `change tracking was off on VM ${vm.name} (${vm.ref.value}): it was disabled or reset since epoch ${since.epoch}; turned it on`;
      }
      const taken = await createSnapshot(session.client, vm.ref, `extentlog ${config.diskId}`, {
        description: `extentlog cycle of disk ${config.diskId}`,
        quiesce: options.quiesce ?? false,
      });
      snapshot = taken;
      const frozen = (await snapshotDisks(session.client, taken)).find(
        (disk) => disk.key === diskInfo.key,
      );
      if (frozen?.changeId == null)
        throw new VsphereError(
          'EXTENTLOG_ERR_VSPHERE_PROTOCOL',
          `snapshot ${taken.value} of VM ${vm.name} has no changeId for disk ${diskInfo.key}, although change tracking is on`,
          { details: { snapshot: taken.value, disk: diskInfo.key } },
        );
      const query = (startOffset: number, changeId: string): Promise<DiskChangeInfo> =>
        withSession(session, (client) =>
          queryChangedDiskAreas(client, vm.ref, taken, diskInfo.key, startOffset, changeId),
        );
      let changeId = rebaselineReason === undefined && sinceChangeId !== null ? sinceChangeId : '*';
      let firstPage: DiskChangeInfo;
      try {
        firstPage = await query(0, changeId);
      } catch (error) {
        if (
          changeId === '*' ||
          !(error instanceof VsphereError && CBT_RESET_FAULTS.has(String(error.details.faultType)))
        )
          throw error;
        rebaselineReason = `QueryChangedDiskAreas refused changeId ${changeId} of epoch ${since?.epoch} (${error.details.faultType}${error.details.faultString ? `: ${String(error.details.faultString)}` : ''}): changed block tracking was reset`;
        changeId = '*';
        firstPage = await query(0, changeId);
      }
      const mode = changeId === '*' ? 'FULL' : 'INCREMENTAL';
      if (rebaselineReason !== undefined)
        rebaselineReason = `${rebaselineReason}; reading the whole disk`;

      const server = await startSnapshotExport(
        options.snapshotReader,
        {
          vm: vm.ref.value,
          snapshot: taken.value,
          fileName: frozen.fileName,
          diskKey: diskInfo.key,
          serverHost: new URL(options.connection.url).hostname,
        },
        options.workDir,
      );
      release = () => server.stop();
      const client = await NbdClient.connect({
        address: { socketPath: server.socketPath },
        exportName: server.exportName,
        connections: options.nbdConnections ?? 4,
        ...(options.maxRequestBytes === undefined
          ? {}
          : { maxRequestBytes: options.maxRequestBytes }),
      });
      const stopServer = release;
      release = async () => {
        client.destroy();
        await stopServer();
      };
      if (client.sizeBytes < diskInfo.capacityBytes)
        throw new SourceError(
          'EXTENTLOG_ERR_SOURCE_OPEN',
          `disk ${config.diskId}: the snapshot export holds ${client.sizeBytes} bytes, the virtual disk ${diskInfo.capacityBytes}`,
        );
      const disk: DiskInfo = {
        diskId: config.diskId,
        sizeBytes: diskInfo.capacityBytes,
        blockSizeBytes,
      };
      const reference = cbtReference(frozen.changeId);
      const logFields = {
        diskId: config.diskId,
        vm: vm.ref.value,
        snapshot: taken.value,
        mode,
        reference,
      };
      if (rebaselineReason !== undefined)
        logger.warn({ ...logFields, rebaselineReason }, 'vmware source: re-baseline');
      else logger.info(logFields, 'vmware source: cycle opened');

      const cycle: ChangeSet = createCbtCycle({
        disk,
        mode,
        reference,
        baseReference: mode === 'INCREMENTAL' ? (since?.reference ?? null) : null,
        ...(rebaselineReason === undefined ? {} : { rebaselineReason }),
        snapshotId: taken.value,
        changeId: frozen.changeId,
        firstPage,
        nextPage: (startOffset) => query(startOffset, changeId),
        client,
        commit: async () => {
          openCycles.delete(cycle);
          await client.close().catch(() => undefined);
          await cleanUp();
        },
        abort: async (reason) => {
          openCycles.delete(cycle);
          logger.info(
            { diskId: config.diskId, reference, reason: describeError(reason) },
            'vmware source cycle aborted; the committed changeId stays the reference',
          );
          await cleanUp();
        },
      });
      openCycles.add(cycle);
      return cycle;
    } catch (error) {
      await cleanUp();
      throw error;
    }
  }

  return {
    kind: 'vmware',
    async disks() {
      const client = await VimClient.connect(options.connection);
      try {
        const infos: DiskInfo[] = [];
        for (const config of byId.values()) {
          const vm = await findVirtualMachine(client, config.vm);
          const disk = pickDisk(vm, config.disk);
          infos.push({ diskId: config.diskId, sizeBytes: disk.capacityBytes, blockSizeBytes });
        }
        return infos;
      } finally {
        await client.logout().catch(() => undefined);
      }
    },
    open,
    async close() {
      await Promise.allSettled([...openCycles].map((cycle) => cycle.abort('source closed')));
    },
  };
}
