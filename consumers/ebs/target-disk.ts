/**
 * One disk of the EBS target: each epoch becomes one EBS snapshot, the child of the
 * previous epoch's (`ParentSnapshotId`), so every restore point is a complete snapshot that
 * EC2 can turn into a volume.
 *
 * Extents are merged into 512 KiB blocks in the epoch's local staging (epoch-staging.ts):
 * a block covered whole is written as is; a block covered in part is first filled with the
 * parent snapshot's block (GetSnapshotBlock), or zeros where the parent has none
 * (read-modify-write). ZERO and DISCARD covering a whole block mark it zero. At SyncCommit
 * the staged blocks go to a new snapshot (snapshot-writer.ts), which is the restore point.
 *
 * Parent reads do not hold up the replay: a partial block starts a merge (the parent's block,
 * then every write queued for that block meanwhile, in order), up to `readConcurrency` of
 * them at once. Writes to a block being merged join its queue; `flush()` and `commitEpoch()`
 * wait for every merge, so what is flushed is complete.
 *
 * Restart safety: an epoch whose snapshot completed before a crash is found by its tags and
 * not written again; one staged before a crash is reopened (see epoch-staging.ts).
 */
import type { EBSClient } from '@aws-sdk/client-ebs';
import type { EC2Client } from '@aws-sdk/client-ec2';
import { createHash } from 'node:crypto';
import path from 'node:path';
import type { Logger } from 'pino';
import type { AwsCaller } from '../../cloud/aws/aws-caller.js';
import { EBS_BLOCK_BYTES } from '../../cloud/aws/ebs-checksums.js';
import { SnapshotBlocks } from '../../cloud/aws/snapshot-blocks.js';
import { diskTagValue, TAG_DISK, TAG_FEED } from '../../cloud/aws/snapshot-tags.js';
import type { SnapshotPolling } from '../../cloud/aws/snapshot-waiter.js';
import { TargetError } from '../errors.js';
import type {
  ApplyExtent,
  EpochBegin,
  EpochCommit,
  RestorePointLocation,
  TargetDisk,
} from '../target.js';
import { DATA, EpochStaging, UNTOUCHED, ZEROS } from './epoch-staging.js';
import { writeSnapshot } from './snapshot-writer.js';
import {
  completedEpochSnapshot,
  TAG_DIGEST,
  TAG_EPOCH,
  TAG_SOURCE_REFERENCE,
  TAG_TARGET,
  type SnapshotKey,
} from './target-snapshots.js';
import { targetErrorOf } from './target-errors.js';

export interface EbsDiskContext {
  readonly caller: AwsCaller;
  readonly ebs: EBSClient;
  readonly ec2: EC2Client;
  readonly key: SnapshotKey;
  readonly stagingDir: string;
  readonly putConcurrency: number;
  /** Parent blocks read at once for partial blocks (read-modify-write). */
  readonly readConcurrency: number;
  readonly timeoutMinutes: number;
  readonly polling: SnapshotPolling;
  readonly logger: Logger;
  /** Called once, when the disk closes. */
  readonly onClose: () => void;
}

interface OpenEpoch {
  readonly begin: EpochBegin;
  /** Set when the epoch's snapshot is complete already (before a restart, or just now). */
  doneSnapshotId: string | null;
  readonly staging: EpochStaging | null;
  readonly parent: SnapshotBlocks | null;
}

/** A partial block waiting for its parent block: the writes to lay over it, in order. */
interface Merge {
  readonly writes: { readonly offsetBytes: number; readonly data: Buffer }[];
  queuedBytes: number;
  done: Promise<void>;
}

export class EbsTargetDisk implements TargetDisk {
  #epoch: OpenEpoch | null = null;
  #closed = false;
  readonly #merges = new Map<number, Merge>();
  #mergeFailure: unknown = null;

  constructor(private readonly context: EbsDiskContext) {}

  get #what(): string {
    const { key } = this.context;
    return `disk ${key.diskId} of feed ${key.feed} (EBS target ${key.target})`;
  }

  async beginEpoch(begin: EpochBegin): Promise<void> {
    this.#checkOpen();
    const { caller, ec2, ebs, key } = this.context;
    await this.#settleMerges().catch(() => undefined); // the superseded epoch's
    this.#mergeFailure = null;
    await this.#epoch?.staging?.close();
    this.#epoch = null;
    try {
      const done = await completedEpochSnapshot(caller, ec2, key, begin.epoch);
      if (done !== null) {
        this.context.logger.info(
          { diskId: key.diskId, epoch: begin.epoch, snapshotId: done },
          'ebs target: the epoch is in a completed snapshot already',
        );
        this.#epoch = { begin, doneSnapshotId: done, staging: null, parent: null };
        return;
      }
      let parentId: string | null = null;
      if (begin.mode !== 'FULL') {
        parentId =
          begin.baseEpoch === null
            ? null
            : await completedEpochSnapshot(caller, ec2, key, begin.baseEpoch);
        if (parentId === null)
          throw new TargetError(
            'EXTENTLOG_ERR_TARGET_BASE_MISSING',
            `${this.#what}: epoch ${begin.epoch} is based on epoch ${begin.baseEpoch}, but no completed snapshot of that epoch (tag ${TAG_EPOCH}=${begin.baseEpoch}) exists any more: re-baseline the disk (a FULL epoch) or restore the snapshot`,
            { details: { diskId: key.diskId, epoch: begin.epoch, baseEpoch: begin.baseEpoch } },
          );
      }
      const staging = await EpochStaging.open(
        this.context.stagingDir,
        begin.epoch,
        begin.diskSizeBytes,
        parentId,
      );
      this.#epoch = {
        begin,
        doneSnapshotId: null,
        staging,
        parent: parentId === null ? null : new SnapshotBlocks(caller, ebs, parentId),
      };
    } catch (error) {
      throw targetErrorOf(
        error,
        'EXTENTLOG_ERR_TARGET_OPEN',
        `${this.#what}: beginning epoch ${begin.epoch}`,
      );
    }
  }

  async apply(extent: ApplyExtent): Promise<void> {
    this.#checkOpen();
    const epoch = this.#epoch;
    if (epoch === null)
      throw new TargetError(
        'EXTENTLOG_ERR_TARGET_BAD_EXTENT',
        `${this.#what}: an extent at offset ${extent.offsetBytes} came before any epoch began`,
      );
    const { offsetBytes, lengthBytes } = extent;
    const sizeBytes = epoch.begin.diskSizeBytes;
    if (
      !Number.isSafeInteger(offsetBytes) ||
      !Number.isSafeInteger(lengthBytes) ||
      offsetBytes < 0 ||
      lengthBytes < 0 ||
      offsetBytes + lengthBytes > sizeBytes ||
      (extent.op === 'WRITE' && extent.data?.length !== lengthBytes)
    )
      throw new TargetError(
        'EXTENTLOG_ERR_TARGET_BAD_EXTENT',
        `${this.#what}: ${extent.op} extent [${offsetBytes}, ${offsetBytes + lengthBytes}) with ${extent.data?.length ?? 'no'} data bytes does not fit the disk's ${sizeBytes} bytes`,
        { details: { offsetBytes, lengthBytes } },
      );
    const staging = epoch.staging;
    if (staging === null || lengthBytes === 0) return; // done already: nothing to write
    try {
      const endBytes = offsetBytes + lengthBytes;
      for (
        let block = Math.floor(offsetBytes / EBS_BLOCK_BYTES);
        block * EBS_BLOCK_BYTES < endBytes;
        block++
      ) {
        const blockStart = block * EBS_BLOCK_BYTES;
        const blockEnd = Math.min(sizeBytes, blockStart + EBS_BLOCK_BYTES);
        const from = Math.max(offsetBytes, blockStart);
        const to = Math.min(endBytes, blockEnd);
        const whole = from === blockStart && to === blockEnd;
        const merge = this.#merges.get(block);
        if (whole && extent.op !== 'WRITE' && merge === undefined) {
          staging.setState(block, ZEROS);
          continue;
        }
        const data =
          extent.op === 'WRITE'
            ? extent.data!.subarray(from - offsetBytes, to - offsetBytes)
            : Buffer.alloc(to - from);
        if (merge !== undefined) {
          merge.writes.push({ offsetBytes: from, data });
          merge.queuedBytes += data.length;
          if (merge.queuedBytes > 2 * EBS_BLOCK_BYTES) await merge.done; // bounded memory
          continue;
        }
        const state = staging.states[block];
        if (!whole && state === UNTOUCHED && epoch.parent !== null) {
          await this.#startMerge(epoch.parent, staging, block, { offsetBytes: from, data });
          continue;
        }
        if (!whole && state !== DATA)
          await staging.write(blockStart, Buffer.alloc(EBS_BLOCK_BYTES)); // no parent data: zeros
        await staging.write(from, data);
        staging.setState(block, DATA);
      }
      if (this.#mergeFailure !== null) throw this.#mergeFailure;
    } catch (error) {
      throw targetErrorOf(
        error,
        'EXTENTLOG_ERR_TARGET_WRITE',
        `${this.#what}: applying ${extent.op} at offset ${offsetBytes}`,
      );
    }
  }

  /**
   * Starts filling a staged block with its parent block, then the queued writes; waits first
   * while `readConcurrency` merges are running.
   */
  async #startMerge(
    parent: SnapshotBlocks,
    staging: EpochStaging,
    block: number,
    first: { offsetBytes: number; data: Buffer },
  ): Promise<void> {
    while (this.#merges.size >= this.context.readConcurrency)
      await Promise.race([...this.#merges.values()].map((running) => running.done));
    const merge: Merge = {
      writes: [first],
      queuedBytes: first.data.length,
      done: Promise.resolve(),
    };
    this.#merges.set(block, merge);
    merge.done = (async () => {
      const base = await parent.read(block);
      await staging.write(block * EBS_BLOCK_BYTES, base?.data ?? Buffer.alloc(EBS_BLOCK_BYTES));
      // Writes queued while these awaits ran are picked up: the loop sees the array grow, and
      // nothing is queued between its last step and the delete below (no await in between).
      for (const write of merge.writes) await staging.write(write.offsetBytes, write.data);
      staging.setState(block, DATA);
      this.#merges.delete(block);
    })().catch((error: unknown) => {
      this.#merges.delete(block);
      this.#mergeFailure ??= error;
    });
  }

  /** Waits for every running merge; throws the first merge failure. */
  async #settleMerges(): Promise<void> {
    while (this.#merges.size > 0)
      await Promise.all([...this.#merges.values()].map((running) => running.done));
    if (this.#mergeFailure !== null) throw this.#mergeFailure;
  }

  async flush(): Promise<void> {
    this.#checkOpen();
    try {
      await this.#settleMerges();
      await this.#epoch?.staging?.flush();
    } catch (error) {
      throw targetErrorOf(
        error,
        'EXTENTLOG_ERR_TARGET_WRITE',
        `${this.#what}: syncing the staging in ${this.context.stagingDir}`,
      );
    }
  }

  async commitEpoch(commit: EpochCommit): Promise<RestorePointLocation> {
    this.#checkOpen();
    const epoch = this.#epoch;
    if (epoch === null || epoch.begin.epoch !== commit.epoch)
      throw new TargetError(
        'EXTENTLOG_ERR_TARGET_BAD_EXTENT',
        `${this.#what}: epoch ${commit.epoch} commits, but ${epoch === null ? 'no epoch' : `epoch ${epoch.begin.epoch}`} is open`,
      );
    if (epoch.doneSnapshotId !== null) return { location: epoch.doneSnapshotId };
    const { key } = this.context;
    try {
      await this.#settleMerges();
      const written = await writeSnapshot({
        caller: this.context.caller,
        ebs: this.context.ebs,
        ec2: this.context.ec2,
        staging: epoch.staging!,
        tags: [
          { Key: TAG_TARGET, Value: key.target },
          { Key: TAG_FEED, Value: key.feed },
          { Key: TAG_DISK, Value: diskTagValue(key.diskId) },
          { Key: TAG_EPOCH, Value: String(commit.epoch) },
          { Key: TAG_DIGEST, Value: commit.digest },
          { Key: TAG_SOURCE_REFERENCE, Value: commit.sourceReference.slice(0, 255) },
          {
            Key: 'Name',
            Value: `extentlog ${key.feed}/${key.diskId} epoch ${commit.epoch}`.slice(0, 255),
          },
        ],
        description:
          `extentlog restore point: feed ${key.feed}, disk ${key.diskId}, epoch ${commit.epoch}`.slice(
            0,
            255,
          ),
        clientTokenSeed: `${key.target}/${key.feed}/${key.diskId}/${commit.epoch}`,
        putConcurrency: this.context.putConcurrency,
        timeoutMinutes: this.context.timeoutMinutes,
        polling: this.context.polling,
      });
      await epoch.staging!.remove();
      epoch.doneSnapshotId = written.snapshotId;
      this.context.logger.info(
        {
          diskId: key.diskId,
          epoch: commit.epoch,
          snapshotId: written.snapshotId,
          blocks: written.changedBlocks,
        },
        'ebs target: restore point snapshot completed',
      );
      return { location: written.snapshotId };
    } catch (error) {
      throw targetErrorOf(
        error,
        'EXTENTLOG_ERR_TARGET_WRITE',
        `${this.#what}: writing the snapshot of epoch ${commit.epoch}`,
      );
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.context.onClose();
    await this.#settleMerges().catch(() => undefined);
    await this.#epoch?.staging?.close();
    this.#epoch = null;
  }

  #checkOpen(): void {
    if (this.#closed)
      throw new TargetError('EXTENTLOG_ERR_TARGET_CLOSED', `${this.#what} was used after close()`);
  }
}

/**
 * Where a disk's staging lives: one directory per feed and disk, named after the disk id, or
 * after its SHA-256 when the encoded id would be too long a file name.
 */
export function stagingDirOf(root: string, feed: string, diskId: string): string {
  const name = encodeURIComponent(diskId);
  return path.join(
    root,
    feed,
    name.length <= 200 ? name : `sha256-${createHash('sha256').update(diskId).digest('hex')}`,
  );
}
