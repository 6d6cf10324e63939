/**
 * The snapshots the EBS source takes and drops (EC2 Query API): `CreateSnapshot` of one
 * volume, or `CreateSnapshots` of an instance, which snapshots all of its volumes at one
 * instant (crash-consistent across volumes); `DescribeSnapshots` polling until completed;
 * `DeleteSnapshot` of the ones no longer needed.
 *
 * Instance rounds: the first disk of an instance to open a cycle takes a snapshot of every
 * volume; the other disks' cycles use the same round, so one sync of all disks reads one
 * instant. A disk that opens again before the others used the round starts a new one. Every
 * snapshot is tagged with the feed and disk, so that `deleteOlder` finds them all (also the
 * ones a crash or a superseded round left behind).
 */
import {
  CreateSnapshotCommand,
  CreateSnapshotsCommand,
  CreateTagsCommand,
  DeleteSnapshotCommand,
  DescribeSnapshotsCommand,
  type EC2Client,
  type Tag,
} from '@aws-sdk/client-ec2';
import type { Logger } from 'pino';
import type { AwsCaller } from '../../cloud/aws/aws-caller.js';
import { diskTagValue, TAG_DISK, TAG_FEED } from '../../cloud/aws/snapshot-tags.js';
import { CloudError } from '../../cloud/errors.js';

export interface VolumeDisk {
  readonly diskId: string;
  readonly volumeId: string;
}

export interface SnapshotTaker {
  /** A new snapshot of the disk's volume (pending; wait for it to complete). */
  take(disk: VolumeDisk): Promise<string>;
}

export interface SnapshotContext {
  readonly caller: AwsCaller;
  readonly ec2: EC2Client;
  readonly feed: string;
  readonly logger: Logger;
}

function tagsOf(context: SnapshotContext, disk: VolumeDisk | null): Tag[] {
  return [
    { Key: TAG_FEED, Value: context.feed },
    ...(disk === null ? [] : [{ Key: TAG_DISK, Value: diskTagValue(disk.diskId) }]),
    {
      Key: 'Name',
      Value: `extentlog ${context.feed}${disk === null ? '' : ` ${disk.diskId}`}`.slice(0, 255),
    },
  ];
}

export function volumeSnapshots(context: SnapshotContext): SnapshotTaker {
  return {
    async take(disk) {
      const response = await context.caller.call(`CreateSnapshot ${disk.volumeId}`, () =>
        context.ec2.send(
          new CreateSnapshotCommand({
            VolumeId: disk.volumeId,
            Description: `extentlog feed ${context.feed}, disk ${disk.diskId}`,
            TagSpecifications: [{ ResourceType: 'snapshot', Tags: tagsOf(context, disk) }],
          }),
        ),
      );
      return snapshotIdOf(response.SnapshotId, `CreateSnapshot ${disk.volumeId}`);
    },
  };
}

function snapshotIdOf(id: string | undefined, what: string): string {
  if (id === undefined)
    throw new CloudError('EXTENTLOG_ERR_CLOUD_REQUEST', `${what} answered without a snapshot id`);
  return id;
}

export function instanceSnapshots(
  context: SnapshotContext,
  instanceId: string,
  disks: readonly VolumeDisk[],
  excludeBootVolume: boolean,
): SnapshotTaker {
  let round: { snapshots: Map<string, string>; used: Set<string> } | null = null;
  let creating: Promise<void> | null = null;

  async function newRound(): Promise<void> {
    const response = await context.caller.call(`CreateSnapshots ${instanceId}`, () =>
      context.ec2.send(
        new CreateSnapshotsCommand({
          InstanceSpecification: { InstanceId: instanceId, ExcludeBootVolume: excludeBootVolume },
          Description: `extentlog feed ${context.feed}, instance ${instanceId}`,
          TagSpecifications: [{ ResourceType: 'snapshot', Tags: tagsOf(context, null) }],
        }),
      ),
    );
    const snapshots = new Map<string, string>();
    for (const info of response.Snapshots ?? [])
      if (info.VolumeId !== undefined && info.SnapshotId !== undefined)
        snapshots.set(info.VolumeId, info.SnapshotId);
    // CreateSnapshots tags every snapshot alike: add each one's disk so that it is found again.
    await Promise.all(
      disks
        .filter((disk) => snapshots.has(disk.volumeId))
        .map((disk) =>
          tagSnapshot(context, snapshots.get(disk.volumeId)!, [
            { Key: TAG_DISK, Value: diskTagValue(disk.diskId) },
          ]),
        ),
    );
    const superseded = round;
    round = { snapshots, used: new Set() };
    if (superseded !== null)
      for (const disk of disks)
        if (!superseded.used.has(disk.diskId) && superseded.snapshots.has(disk.volumeId))
          await deleteSnapshot(
            context,
            superseded.snapshots.get(disk.volumeId)!,
            'superseded round',
          );
  }

  return {
    async take(disk) {
      while (creating !== null) await creating.catch(() => undefined);
      if (round === null || round.used.has(disk.diskId) || !round.snapshots.has(disk.volumeId)) {
        creating = newRound();
        try {
          await creating;
        } finally {
          creating = null;
        }
      }
      const snapshotId = round!.snapshots.get(disk.volumeId);
      if (snapshotId === undefined)
        throw new CloudError(
          'EXTENTLOG_ERR_CLOUD_NOT_FOUND',
          `CreateSnapshots ${instanceId} took no snapshot of volume ${disk.volumeId} (disk ${disk.diskId}): is it still attached to the instance?`,
          { details: { instanceId, volumeId: disk.volumeId } },
        );
      round!.used.add(disk.diskId);
      return snapshotId;
    },
  };
}

async function tagSnapshot(context: SnapshotContext, snapshotId: string, tags: Tag[]) {
  await context.caller.call(`CreateTags ${snapshotId}`, () =>
    context.ec2.send(new CreateTagsCommand({ Resources: [snapshotId], Tags: tags })),
  );
}

/** Deletes a snapshot; one that is gone already is fine. Failures are logged, not thrown. */
export async function deleteSnapshot(
  context: SnapshotContext,
  snapshotId: string,
  why: string,
): Promise<void> {
  try {
    await context.caller.call(`DeleteSnapshot ${snapshotId}`, () =>
      context.ec2.send(new DeleteSnapshotCommand({ SnapshotId: snapshotId })),
    );
    context.logger.debug({ snapshotId, why }, 'ebs source: snapshot deleted');
  } catch (error) {
    if (error instanceof CloudError && error.code === 'EXTENTLOG_ERR_CLOUD_NOT_FOUND') return;
    context.logger.warn(
      { snapshotId, why, err: error },
      'ebs source: could not delete a snapshot; it is retried after the next cycle',
    );
  }
}

/** Deletes the disk's snapshots taken before `current` (the previous reference, leftovers). */
export async function deleteOlder(
  context: SnapshotContext,
  disk: VolumeDisk,
  current: { snapshotId: string; startedAtMs: number },
): Promise<void> {
  let nextToken: string | undefined;
  do {
    const response = await context.caller.call(`DescribeSnapshots of disk ${disk.diskId}`, () =>
      context.ec2.send(
        new DescribeSnapshotsCommand({
          OwnerIds: ['self'],
          Filters: [
            { Name: `tag:${TAG_FEED}`, Values: [context.feed] },
            { Name: `tag:${TAG_DISK}`, Values: [diskTagValue(disk.diskId)] },
            { Name: 'volume-id', Values: [disk.volumeId] },
          ],
          ...(nextToken === undefined ? {} : { NextToken: nextToken }),
        }),
      ),
    );
    for (const snapshot of response.Snapshots ?? []) {
      if (snapshot.SnapshotId === undefined || snapshot.SnapshotId === current.snapshotId) continue;
      if ((snapshot.StartTime?.getTime() ?? 0) > current.startedAtMs) continue; // a newer round's
      await deleteSnapshot(context, snapshot.SnapshotId, 'replaced by a committed snapshot');
    }
    nextToken = response.NextToken;
  } while (nextToken !== undefined);
}
