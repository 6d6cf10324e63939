/**
 * Waiting for an EBS snapshot to complete (EC2 Query API `DescribeSnapshots`, `status`
 * pending → completed | error), polling with a growing interval: snapshots of large,
 * busy volumes take minutes, small incremental ones seconds.
 */
import { DescribeSnapshotsCommand, type EC2Client, type Snapshot } from '@aws-sdk/client-ec2';
import { setTimeout as delay } from 'node:timers/promises';
import { CloudError } from '../errors.js';
import type { AwsCaller } from './aws-caller.js';

export interface SnapshotPolling {
  readonly initialPollMs: number;
  readonly maxPollMs: number;
  readonly timeoutMs: number;
}

export const DEFAULT_SNAPSHOT_POLLING: SnapshotPolling = {
  initialPollMs: 1000,
  maxPollMs: 15_000,
  timeoutMs: 6 * 3600 * 1000,
};

/** The snapshot as EC2 describes it, or null when it does not exist. */
export async function describeSnapshot(
  caller: AwsCaller,
  ec2: EC2Client,
  snapshotId: string,
): Promise<Snapshot | null> {
  try {
    const response = await caller.call(`DescribeSnapshots ${snapshotId}`, () =>
      ec2.send(new DescribeSnapshotsCommand({ SnapshotIds: [snapshotId] })),
    );
    return response.Snapshots?.find((snapshot) => snapshot.SnapshotId === snapshotId) ?? null;
  } catch (error) {
    if (error instanceof CloudError && error.code === 'EXTENTLOG_ERR_CLOUD_NOT_FOUND') return null;
    throw error;
  }
}

export async function waitForSnapshot(
  caller: AwsCaller,
  ec2: EC2Client,
  snapshotId: string,
  polling: SnapshotPolling,
): Promise<Snapshot> {
  const deadline = Date.now() + polling.timeoutMs;
  let pollMs = polling.initialPollMs;
  for (;;) {
    const snapshot = await describeSnapshot(caller, ec2, snapshotId);
    if (snapshot === null)
      throw new CloudError(
        'EXTENTLOG_ERR_CLOUD_NOT_FOUND',
        `snapshot ${snapshotId} disappeared while waiting for it to complete (deleted by someone else?)`,
        { details: { snapshotId } },
      );
    if (snapshot.State === 'completed') return snapshot;
    if (snapshot.State === 'error')
      throw new CloudError(
        'EXTENTLOG_ERR_CLOUD_SNAPSHOT',
        `snapshot ${snapshotId} went into the error state${snapshot.StateMessage ? `: ${snapshot.StateMessage}` : ''}`,
        { details: { snapshotId } },
      );
    if (Date.now() + pollMs > deadline)
      throw new CloudError(
        'EXTENTLOG_ERR_CLOUD_SNAPSHOT',
        `snapshot ${snapshotId} is still ${String(snapshot.State)} (${snapshot.Progress ?? '?'}) after ${polling.timeoutMs} ms: raise snapshotWaitTimeoutMs, or check it in the EC2 console`,
        { details: { snapshotId, state: snapshot.State ?? null } },
      );
    await delay(pollMs);
    pollMs = Math.min(polling.maxPollMs, Math.ceil(pollMs * 1.5));
  }
}
