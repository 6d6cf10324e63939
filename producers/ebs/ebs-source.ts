/**
 * The EBS source: EC2 volumes replicated without an agent, through EBS snapshots and the
 * EBS direct APIs (`ListSnapshotBlocks`, `ListChangedBlocks`, `GetSnapshotBlock`).
 *
 * Each cycle snapshots the volume (`CreateSnapshot`, or `CreateSnapshots` of the instance for
 * crash consistency across its volumes, see volume-snapshots.ts), waits for it to complete
 * and reads the blocks that changed since the previous cycle's snapshot — or, for a FULL
 * cycle, every written block, the rest being ZERO. Its `reference` is `ebs:<snapshot id>`;
 * after the cycle's SyncCommit is in the log, `commit()` deletes the older snapshots of the
 * disk and the new one is the next cycle's base. An aborted cycle deletes its snapshot.
 *
 * A previous snapshot that no longer exists (deleted outside extentlog), is not complete,
 * or is of another size, makes the cycle a FULL one with the reason in its SyncBegin.
 *
 * Every request of the source, EC2 and EBS alike, retries included, takes a token of one
 * bucket (`maxRequestsPerSecond`, `burst`); throttling and 5xx answers are retried with
 * jittered back-off (cloud/aws/aws-caller.ts).
 */
import {
  DescribeInstancesCommand,
  DescribeVolumesCommand,
  type EC2Client,
} from '@aws-sdk/client-ec2';
import type { EBSClient } from '@aws-sdk/client-ebs';
import type { Logger } from 'pino';
import type { AwsCaller } from '../../cloud/aws/aws-caller.js';
import { EBS_BLOCK_BYTES, GiB } from '../../cloud/aws/ebs-checksums.js';
import {
  describeSnapshot,
  waitForSnapshot,
  type SnapshotPolling,
} from '../../cloud/aws/snapshot-waiter.js';
import { SourceError } from '../errors.js';
import type { ChangeSet, ChangeSource, CommittedReference, DiskInfo } from '../source.js';
import { createEbsCycle } from './ebs-cycle.js';
import {
  deleteOlder,
  deleteSnapshot,
  instanceSnapshots,
  volumeSnapshots,
  type SnapshotContext,
  type SnapshotTaker,
  type VolumeDisk,
} from './volume-snapshots.js';

export interface EbsSourceOptions {
  /** The feed's name: tags the snapshots, so that each feed finds and deletes its own. */
  readonly feed: string;
  /** Volumes to protect, each with its disk id (default: the volume id). */
  readonly volumes?: readonly { readonly volumeId: string; readonly diskId?: string }[];
  /** Or every volume of an instance, snapshotted together with CreateSnapshots. */
  readonly instance?: { readonly instanceId: string; readonly excludeBootVolume?: boolean };
  readonly ebs: EBSClient;
  readonly ec2: EC2Client;
  readonly caller: AwsCaller;
  readonly polling: SnapshotPolling;
  /** GetSnapshotBlock requests in flight per cycle. */
  readonly readConcurrency?: number;
  /** Blocks fetched ahead and not yet published (memory: this × 512 KiB per cycle). */
  readonly maxHeldBlocks?: number;
  /** MaxResults of the list calls: 100–10000. */
  readonly maxResults?: number;
  readonly logger: Logger;
}

const REFERENCE_PREFIX = 'ebs:';

export function snapshotOfReference(reference: string): string | null {
  return reference.startsWith(REFERENCE_PREFIX) &&
    /^snap-[0-9a-f]+$/.test(reference.slice(REFERENCE_PREFIX.length))
    ? reference.slice(REFERENCE_PREFIX.length)
    : null;
}

function configError(message: string): SourceError {
  return new SourceError('EXTENTLOG_ERR_SOURCE_CONFIG', `ebs source: ${message}`);
}

function validate(options: EbsSourceOptions) {
  const readConcurrency = options.readConcurrency ?? 16;
  const maxHeldBlocks = options.maxHeldBlocks ?? Math.max(2 * readConcurrency, 16);
  const maxResults = options.maxResults ?? 10_000;
  if (!Number.isSafeInteger(readConcurrency) || readConcurrency < 1 || readConcurrency > 256)
    throw configError(`readConcurrency must be 1–256, received ${readConcurrency}`);
  if (!Number.isSafeInteger(maxHeldBlocks) || maxHeldBlocks < readConcurrency)
    throw configError(
      `maxHeldBlocks must be at least readConcurrency (${readConcurrency}), received ${maxHeldBlocks}`,
    );
  if (!Number.isSafeInteger(maxResults) || maxResults < 100 || maxResults > 10_000)
    throw configError(`maxResults must be 100–10000, received ${maxResults}`);
  const hasVolumes = (options.volumes?.length ?? 0) > 0;
  if (hasVolumes === (options.instance !== undefined))
    throw configError('configure either volumes or an instance, exactly one of them');
  return { readConcurrency, maxHeldBlocks, maxResults };
}

export function createEbsSource(options: EbsSourceOptions): ChangeSource {
  const { readConcurrency, maxHeldBlocks, maxResults } = validate(options);
  const { caller, ec2, ebs, logger, feed } = options;
  const context: SnapshotContext = { caller, ec2, feed, logger };
  const openCycles = new Set<ChangeSet>();
  let known: Map<string, VolumeDisk> | null = null;
  let taker: SnapshotTaker | null = null;

  async function describeDisks(): Promise<DiskInfo[]> {
    const instance = options.instance;
    const response = await caller.call(
      instance === undefined
        ? 'DescribeVolumes'
        : `DescribeVolumes of instance ${instance.instanceId}`,
      () =>
        ec2.send(
          new DescribeVolumesCommand(
            instance === undefined
              ? { VolumeIds: options.volumes!.map((volume) => volume.volumeId) }
              : { Filters: [{ Name: 'attachment.instance-id', Values: [instance.instanceId] }] },
          ),
        ),
    );
    const volumes = response.Volumes ?? [];
    const rootDevice = instance?.excludeBootVolume ? await rootDeviceOf(instance.instanceId) : null;
    const disks: VolumeDisk[] = [];
    const infos: DiskInfo[] = [];
    for (const volume of volumes) {
      if (volume.VolumeId === undefined || volume.Size === undefined) continue;
      const device = volume.Attachments?.find((a) => a.InstanceId === instance?.instanceId)?.Device;
      if (rootDevice !== null && device === rootDevice) continue;
      const configured = options.volumes?.find((entry) => entry.volumeId === volume.VolumeId);
      const diskId = configured?.diskId ?? volume.VolumeId;
      disks.push({ diskId, volumeId: volume.VolumeId });
      infos.push({ diskId, sizeBytes: volume.Size * GiB, blockSizeBytes: EBS_BLOCK_BYTES });
    }
    if (instance === undefined)
      for (const entry of options.volumes!)
        if (!disks.some((disk) => disk.volumeId === entry.volumeId))
          throw new SourceError(
            'EXTENTLOG_ERR_SOURCE_OPEN',
            `ebs source: DescribeVolumes did not list volume ${entry.volumeId}`,
            { retriable: false, details: { volumeId: entry.volumeId } },
          );
    if (disks.length === 0)
      throw new SourceError(
        'EXTENTLOG_ERR_SOURCE_OPEN',
        `ebs source: instance ${instance?.instanceId} has no volumes to protect`,
        { retriable: false },
      );
    known = new Map(disks.map((disk) => [disk.diskId, disk]));
    taker =
      instance === undefined
        ? volumeSnapshots(context)
        : instanceSnapshots(
            context,
            instance.instanceId,
            disks,
            instance.excludeBootVolume ?? false,
          );
    return infos;
  }

  /** The device name of an instance's boot volume (DescribeInstances RootDeviceName). */
  async function rootDeviceOf(instanceId: string): Promise<string | null> {
    const response = await caller.call(`DescribeInstances ${instanceId}`, () =>
      ec2.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] })),
    );
    return response.Reservations?.[0]?.Instances?.[0]?.RootDeviceName ?? null;
  }

  /** Why the previous snapshot cannot be the base of an incremental, or null when it can. */
  async function baseProblem(since: CommittedReference, sizeGiB: number): Promise<string | null> {
    const previous = snapshotOfReference(since.reference);
    if (previous === null)
      return `the committed reference ${since.reference} (epoch ${since.epoch}) is not an EBS snapshot reference`;
    const snapshot = await describeSnapshot(caller, ec2, previous);
    if (snapshot === null)
      return `the snapshot of epoch ${since.epoch}, ${previous}, no longer exists (deleted outside extentlog?)`;
    if (snapshot.State !== 'completed')
      return `the snapshot of epoch ${since.epoch}, ${previous}, is ${String(snapshot.State)}`;
    if (snapshot.VolumeSize !== sizeGiB)
      return `the volume changed size from ${snapshot.VolumeSize} GiB (epoch ${since.epoch}) to ${sizeGiB} GiB`;
    return null;
  }

  async function open(requested: DiskInfo, since: CommittedReference | null): Promise<ChangeSet> {
    if (known === null) await describeDisks();
    const volumeDisk = known!.get(requested.diskId);
    if (volumeDisk === undefined)
      throw new SourceError(
        'EXTENTLOG_ERR_SOURCE_UNKNOWN_DISK',
        `ebs source: no disk ${requested.diskId} is configured (configured: ${[...known!.keys()].join(', ')})`,
        { details: { diskId: requested.diskId } },
      );
    const snapshotId = await taker!.take(volumeDisk);
    let opened = false;
    try {
      const snapshot = await waitForSnapshot(caller, ec2, snapshotId, options.polling);
      const sizeGiB = snapshot.VolumeSize ?? requested.sizeBytes / GiB;
      const startedAtMs = snapshot.StartTime?.getTime() ?? Date.now();
      const problem = since === null ? null : await baseProblem(since, sizeGiB);
      const previousSnapshotId =
        since !== null && problem === null ? snapshotOfReference(since.reference) : null;
      const disk: DiskInfo = {
        diskId: volumeDisk.diskId,
        sizeBytes: sizeGiB * GiB,
        blockSizeBytes: EBS_BLOCK_BYTES,
      };
      logger.info(
        {
          diskId: disk.diskId,
          volumeId: volumeDisk.volumeId,
          snapshotId,
          previousSnapshotId,
          ...(problem === null ? {} : { rebaselineReason: problem }),
        },
        'ebs source: cycle opened',
      );
      const cycle: ChangeSet = createEbsCycle({
        disk,
        caller,
        ebs,
        snapshotId,
        previousSnapshotId,
        reference: `${REFERENCE_PREFIX}${snapshotId}`,
        baseReference: previousSnapshotId === null ? null : since!.reference,
        ...(problem === null ? {} : { rebaselineReason: problem }),
        snapshotAtNs: BigInt(startedAtMs) * 1_000_000n,
        maxResults,
        readConcurrency,
        maxHeldBlocks,
        logger,
        onCommit: async () => {
          openCycles.delete(cycle);
          await deleteOlder(context, volumeDisk, { snapshotId, startedAtMs }).catch(
            (error: unknown) =>
              logger.warn(
                { diskId: disk.diskId, err: error },
                'ebs source: could not look for older snapshots to delete; retried after the next cycle',
              ),
          );
        },
        onAbort: async () => {
          openCycles.delete(cycle);
          await deleteSnapshot(context, snapshotId, 'cycle aborted');
        },
      });
      openCycles.add(cycle);
      opened = true;
      return cycle;
    } finally {
      if (!opened) await deleteSnapshot(context, snapshotId, 'cycle could not open');
    }
  }

  return {
    kind: 'ebs',
    disks: describeDisks,
    open,
    async close() {
      await Promise.allSettled([...openCycles].map((cycle) => cycle.abort('source closed')));
    },
  };
}
