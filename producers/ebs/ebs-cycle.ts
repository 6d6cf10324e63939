/**
 * One cycle of the EBS source over a completed snapshot (EBS direct APIs):
 *
 *   FULL         ListSnapshotBlocks(current)          listed block → WRITE; the gaps → ZERO
 *   INCREMENTAL  ListChangedBlocks(previous, current) SecondBlockToken → WRITE;
 *                                                     FirstBlockToken only → ZERO (unwritten now)
 *
 * Pages are listed lazily as the feed pulls extents; every WRITE block of a page is queued
 * on the prefetcher (block-prefetcher.ts) at once, so reads run `readConcurrency` deep
 * whatever the extents look like, and the reader hands each block to the feed once.
 * Consecutive blocks of one op coalesce into one extent; a FULL cycle covers the whole disk.
 */
import type { EBSClient } from '@aws-sdk/client-ebs';
import type { Logger } from 'pino';
import type { AwsCaller } from '../../cloud/aws/aws-caller.js';
import {
  listChangedBlocksPage,
  listSnapshotBlocksPage,
  pagesOf,
  type BlockPage,
} from '../../cloud/aws/ebs-block-lists.js';
import { EBS_BLOCK_BYTES } from '../../cloud/aws/ebs-checksums.js';
import { CycleLifecycle, readOutOfRange } from '../cycle-lifecycle.js';
import { SourceError } from '../errors.js';
import {
  cycleBasis,
  type BlockReader,
  type ChangedExtent,
  type ChangeSet,
  type DiskInfo,
  type ExtentOp,
} from '../source.js';
import { BlockPrefetcher } from './block-prefetcher.js';

export interface EbsCycleOptions {
  readonly disk: DiskInfo;
  readonly caller: AwsCaller;
  readonly ebs: EBSClient;
  readonly snapshotId: string;
  /** INCREMENTAL: the snapshot of the last committed cycle. */
  readonly previousSnapshotId: string | null;
  readonly reference: string;
  readonly baseReference: string | null;
  readonly rebaselineReason?: string;
  readonly snapshotAtNs: bigint;
  readonly maxResults: number;
  readonly readConcurrency: number;
  readonly maxHeldBlocks: number;
  readonly logger: Logger;
  readonly onCommit: () => Promise<void>;
  readonly onAbort: () => Promise<void>;
}

export function createEbsCycle(options: EbsCycleOptions): ChangeSet {
  const { disk, caller, ebs, snapshotId, previousSnapshotId } = options;
  const mode = previousSnapshotId === null ? 'FULL' : 'INCREMENTAL';
  const blocks = Math.ceil(disk.sizeBytes / EBS_BLOCK_BYTES);
  const prefetcher = new BlockPrefetcher({
    caller,
    ebs,
    snapshotId,
    concurrency: options.readConcurrency,
    maxHeldBlocks: options.maxHeldBlocks,
    onChecksumMismatch: (blockIndex, attempt) =>
      options.logger.warn(
        { diskId: disk.diskId, snapshotId, blockIndex, attempt },
        'ebs source: a block did not match its checksum; reading it again',
      ),
  });
  /** Bytes of each block handed to the feed so far: a block is released once all are. */
  const handedBytes = new Map<number, number>();
  const lifecycle = new CycleLifecycle(disk.diskId, options.reference);

  const fetchPage = (nextToken: string | null): Promise<BlockPage> =>
    previousSnapshotId === null
      ? listSnapshotBlocksPage(caller, ebs, snapshotId, {
          maxResults: options.maxResults,
          nextToken,
        })
      : listChangedBlocksPage(caller, ebs, previousSnapshotId, snapshotId, {
          maxResults: options.maxResults,
          nextToken,
        });

  function extent(op: ExtentOp, firstBlock: number, endBlock: number): ChangedExtent {
    const offsetBytes = firstBlock * EBS_BLOCK_BYTES;
    return {
      kind: 'extent',
      offsetBytes,
      lengthBytes: Math.min(disk.sizeBytes, endBlock * EBS_BLOCK_BYTES) - offsetBytes,
      op,
      issuedAtNs: options.snapshotAtNs,
      completedAtNs: options.snapshotAtNs,
      provenance: { snapshotId },
    };
  }

  async function* scan(): AsyncGenerator<ChangedExtent> {
    let run: { op: ExtentOp; first: number; end: number } | null = null;
    let coveredBlocks = 0; // FULL: blocks before this one are yielded or in `run`
    const add = function* (op: ExtentOp, first: number, end: number) {
      if (run !== null && run.op === op && run.end === first) {
        run.end = end;
        return;
      }
      if (run !== null) yield extent(run.op, run.first, run.end);
      run = { op, first, end };
    };
    for await (const page of pagesOf(fetchPage)) {
      for (const block of page.blocks) {
        if (block.blockIndex < coveredBlocks || block.blockIndex >= blocks)
          throw new SourceError(
            'EXTENTLOG_ERR_SOURCE_READ',
            `disk ${disk.diskId}: snapshot ${snapshotId} listed block ${block.blockIndex} out of order or beyond the disk's ${blocks} blocks`,
            { details: { diskId: disk.diskId, snapshotId, blockIndex: block.blockIndex } },
          );
        if (block.token !== null) prefetcher.enqueue(block.blockIndex, block.token);
      }
      for (const block of page.blocks) {
        if (mode === 'FULL' && block.blockIndex > coveredBlocks)
          yield* add('ZERO', coveredBlocks, block.blockIndex);
        yield* add(block.token === null ? 'ZERO' : 'WRITE', block.blockIndex, block.blockIndex + 1);
        coveredBlocks = block.blockIndex + 1;
      }
    }
    if (mode === 'FULL' && coveredBlocks < blocks) yield* add('ZERO', coveredBlocks, blocks);
    const last = run as { op: ExtentOp; first: number; end: number } | null;
    if (last !== null) yield extent(last.op, last.first, last.end);
  }

  const reader: BlockReader = {
    async read(offsetBytes, lengthBytes) {
      const outside = readOutOfRange(disk, offsetBytes, lengthBytes);
      if (outside !== null) throw outside;
      const endBytes = offsetBytes + lengthBytes;
      const first = Math.floor(offsetBytes / EBS_BLOCK_BYTES);
      const last = Math.floor((endBytes - 1) / EBS_BLOCK_BYTES);
      const parts: Buffer[] = [];
      for (let blockIndex = first; blockIndex <= last; blockIndex++) {
        const data = await prefetcher.read(blockIndex);
        const blockStart = blockIndex * EBS_BLOCK_BYTES;
        const from = Math.max(offsetBytes, blockStart) - blockStart;
        const to = Math.min(endBytes, blockStart + EBS_BLOCK_BYTES) - blockStart;
        parts.push(data.subarray(from, to));
        const handed = (handedBytes.get(blockIndex) ?? 0) + (to - from);
        const blockBytes = Math.min(EBS_BLOCK_BYTES, disk.sizeBytes - blockStart);
        if (handed >= blockBytes) {
          handedBytes.delete(blockIndex);
          prefetcher.release(blockIndex);
        } else handedBytes.set(blockIndex, handed);
      }
      return parts.length === 1 ? parts[0]! : Buffer.concat(parts, lengthBytes);
    },
  };

  return {
    disk,
    ...cycleBasis(mode, options),
    changes: () => lifecycle.scan(scan),
    reader,
    async commit() {
      lifecycle.beginCommit();
      prefetcher.stop();
      await options.onCommit();
    },
    async abort(reason) {
      if (!lifecycle.beginAbort()) return;
      prefetcher.stop(reason);
      await options.onAbort();
    },
  };
}
