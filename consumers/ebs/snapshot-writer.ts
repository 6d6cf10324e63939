/**
 * Writing a staged epoch into a new EBS snapshot (EBS direct APIs):
 *
 *   StartSnapshot   POST /snapshots {VolumeSize GiB, ParentSnapshotId, Tags, ClientToken, Timeout}
 *   PutSnapshotBlock × n, `putConcurrency` in flight (x-amz-Data-Length 524288,
 *                   x-amz-Checksum base64 SHA-256, x-amz-Checksum-Algorithm SHA256)
 *   CompleteSnapshot (x-amz-ChangedBlocksCount n, x-amz-Checksum LINEAR aggregate)
 *   then DescribeSnapshots until completed.
 *
 * Which blocks are written: every staged data block, except all-zero ones where the parent
 * has no block either (an unwritten block already reads as zeros); a block zeroed by the
 * epoch is written as a zero block only where the parent holds data, and left out
 * otherwise. A FULL epoch (no parent) therefore writes only its non-zero blocks.
 *
 * The ClientToken is derived from the staging's nonce, so a restart that finds the epoch
 * staged asks StartSnapshot again and gets the same pending snapshot; writing a block twice
 * replaces it, and the count and aggregate are those of the blocks this run writes (the
 * same set, as the staging is the same).
 */
import { createHash } from 'node:crypto';
import {
  CompleteSnapshotCommand,
  PutSnapshotBlockCommand,
  StartSnapshotCommand,
  type EBSClient,
} from '@aws-sdk/client-ebs';
import type { EC2Client } from '@aws-sdk/client-ec2';
import type { AwsCaller } from '../../cloud/aws/aws-caller.js';
import { SnapshotBlockIndex } from '../../cloud/aws/ebs-block-lists.js';
import {
  blockSha256,
  EBS_BLOCK_BYTES,
  GiB,
  linearAggregate,
} from '../../cloud/aws/ebs-checksums.js';
import { waitForSnapshot, type SnapshotPolling } from '../../cloud/aws/snapshot-waiter.js';
import { CloudError } from '../../cloud/errors.js';
import { DATA, ZEROS, type EpochStaging } from './epoch-staging.js';

export interface SnapshotWriteOptions {
  readonly caller: AwsCaller;
  readonly ebs: EBSClient;
  readonly ec2: EC2Client;
  readonly staging: EpochStaging;
  readonly tags: readonly { Key: string; Value: string }[];
  readonly description: string;
  readonly clientTokenSeed: string;
  readonly putConcurrency: number;
  readonly timeoutMinutes: number;
  readonly polling: SnapshotPolling;
}

export interface WrittenSnapshot {
  readonly snapshotId: string;
  readonly changedBlocks: number;
}

function isZero(block: Buffer): boolean {
  for (let at = 0; at < block.length; at += 8) if (block.readBigUInt64LE(at) !== 0n) return false;
  return true;
}

export async function writeSnapshot(options: SnapshotWriteOptions): Promise<WrittenSnapshot> {
  const { caller, ebs, staging } = options;
  const { parentSnapshotId, diskSizeBytes, nonce } = staging.description;
  const clientToken = createHash('sha256')
    .update(`${options.clientTokenSeed}/${nonce}`)
    .digest('hex')
    .slice(0, 64);
  const started = await caller.call(`StartSnapshot for ${options.description}`, () =>
    ebs.send(
      new StartSnapshotCommand({
        VolumeSize: Math.ceil(diskSizeBytes / GiB),
        ...(parentSnapshotId === null ? {} : { ParentSnapshotId: parentSnapshotId }),
        Tags: [...options.tags],
        Description: options.description,
        ClientToken: clientToken,
        Timeout: options.timeoutMinutes,
      }),
    ),
  );
  const snapshotId = started.SnapshotId;
  if (snapshotId === undefined)
    throw new CloudError(
      'EXTENTLOG_ERR_CLOUD_REQUEST',
      'StartSnapshot answered without a SnapshotId',
    );
  await staging.recordSnapshot(snapshotId);
  const parent =
    parentSnapshotId === null ? null : new SnapshotBlockIndex(caller, ebs, parentSnapshotId);
  const digests = new Map<number, Buffer>();

  const writeBlock = async (blockIndex: number, data: Buffer) => {
    const digest = blockSha256(data);
    await caller.call(`PutSnapshotBlock ${snapshotId} block ${blockIndex}`, () =>
      ebs.send(
        new PutSnapshotBlockCommand({
          SnapshotId: snapshotId,
          BlockIndex: blockIndex,
          BlockData: data,
          DataLength: EBS_BLOCK_BYTES,
          Checksum: digest.toString('base64'),
          ChecksumAlgorithm: 'SHA256',
        }),
      ),
    );
    digests.set(blockIndex, digest);
  };

  // Zero blocks are looked up in the parent in ascending order (one listing page at a time);
  // the writes run `putConcurrency` deep behind that scan.
  const inFlight = new Set<Promise<void>>();
  let failure: unknown = null;
  for (let blockIndex = 0; blockIndex < staging.blockCount && failure === null; blockIndex++) {
    const state = staging.states[blockIndex];
    if (state !== DATA && state !== ZEROS) continue;
    const data =
      state === ZEROS ? Buffer.alloc(EBS_BLOCK_BYTES) : await staging.readBlock(blockIndex);
    if (state === ZEROS || isZero(data)) {
      const parentHasIt = parent !== null && (await parent.tokenOf(blockIndex)) !== null;
      if (!parentHasIt) continue;
    }
    const write: Promise<void> = writeBlock(blockIndex, data).then(
      () => void inFlight.delete(write),
      (error: unknown) => {
        inFlight.delete(write);
        failure ??= error;
      },
    );
    inFlight.add(write);
    if (inFlight.size >= options.putConcurrency) await Promise.race(inFlight);
  }
  await Promise.all(inFlight);
  if (failure !== null) throw failure;

  const order = [...digests.keys()].sort((a, b) => a - b);
  const completed = await caller.call(`CompleteSnapshot ${snapshotId}`, () =>
    ebs.send(
      new CompleteSnapshotCommand({
        SnapshotId: snapshotId,
        ChangedBlocksCount: order.length,
        Checksum: linearAggregate(order.map((index) => digests.get(index)!)),
        ChecksumAlgorithm: 'SHA256',
        ChecksumAggregationMethod: 'LINEAR',
      }),
    ),
  );
  if (completed.Status === 'error')
    throw new CloudError(
      'EXTENTLOG_ERR_CLOUD_SNAPSHOT',
      `CompleteSnapshot ${snapshotId}: the snapshot went into the error state (${order.length} blocks written)`,
      { details: { snapshotId } },
    );
  await waitForSnapshot(caller, options.ec2, snapshotId, options.polling);
  return { snapshotId, changedBlocks: order.length };
}
