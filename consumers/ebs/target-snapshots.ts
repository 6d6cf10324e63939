/**
 * Finding the EBS target's snapshots again (EC2 `DescribeSnapshots` with tag filters): each
 * restore point's snapshot carries the target, feed, disk and epoch as tags, so the base of
 * an incremental epoch, or an epoch completed before a crash, is found without local state.
 */
import { DescribeSnapshotsCommand, type EC2Client, type Snapshot } from '@aws-sdk/client-ec2';
import type { AwsCaller } from '../../cloud/aws/aws-caller.js';
import { diskTagValue, TAG_DISK, TAG_FEED } from '../../cloud/aws/snapshot-tags.js';

export const TAG_TARGET = 'extentlog:target';
export const TAG_EPOCH = 'extentlog:epoch';
export const TAG_DIGEST = 'extentlog:digest';
export const TAG_SOURCE_REFERENCE = 'extentlog:source-reference';

export interface SnapshotKey {
  readonly target: string;
  readonly feed: string;
  readonly diskId: string;
}

/** The snapshots of one epoch of a disk (normally one), of any state. */
export async function epochSnapshots(
  caller: AwsCaller,
  ec2: EC2Client,
  key: SnapshotKey,
  epoch: number,
): Promise<Snapshot[]> {
  const found: Snapshot[] = [];
  let nextToken: string | undefined;
  do {
    const response = await caller.call(
      `DescribeSnapshots of ${key.feed}/${key.diskId} epoch ${epoch}`,
      () =>
        ec2.send(
          new DescribeSnapshotsCommand({
            OwnerIds: ['self'],
            Filters: [
              { Name: `tag:${TAG_TARGET}`, Values: [key.target] },
              { Name: `tag:${TAG_FEED}`, Values: [key.feed] },
              { Name: `tag:${TAG_DISK}`, Values: [diskTagValue(key.diskId)] },
              { Name: `tag:${TAG_EPOCH}`, Values: [String(epoch)] },
            ],
            ...(nextToken === undefined ? {} : { NextToken: nextToken }),
          }),
        ),
    );
    found.push(...(response.Snapshots ?? []));
    nextToken = response.NextToken;
  } while (nextToken !== undefined);
  return found;
}

export async function completedEpochSnapshot(
  caller: AwsCaller,
  ec2: EC2Client,
  key: SnapshotKey,
  epoch: number,
): Promise<string | null> {
  const snapshots = await epochSnapshots(caller, ec2, key, epoch);
  return snapshots.find((snapshot) => snapshot.State === 'completed')?.SnapshotId ?? null;
}
