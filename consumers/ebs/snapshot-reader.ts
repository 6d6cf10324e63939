/**
 * A restore point of the EBS target read back (`extentlog verify`, `restore`): the
 * snapshot's blocks through the EBS direct APIs (`ListSnapshotBlocks` for the data ranges,
 * `GetSnapshotBlock` verified against its checksum), unlisted blocks as zeros. A read
 * fetches its blocks `readConcurrency` at a time.
 */
import type { EBSClient } from '@aws-sdk/client-ebs';
import type { AwsCaller } from '../../cloud/aws/aws-caller.js';
import { listSnapshotBlocksPage, pagesOf } from '../../cloud/aws/ebs-block-lists.js';
import { EBS_BLOCK_BYTES } from '../../cloud/aws/ebs-checksums.js';
import { SnapshotBlocks } from '../../cloud/aws/snapshot-blocks.js';
import { readRangeProblem } from '../read-range.js';
import type { DiskRange, RestorePointReader } from '../target.js';
import { targetErrorOf } from './target-errors.js';

export function snapshotReader(options: {
  readonly caller: AwsCaller;
  readonly ebs: EBSClient;
  readonly snapshotId: string;
  readonly diskId: string;
  readonly sizeBytes: number;
  readonly readConcurrency: number;
}): RestorePointReader {
  const { caller, ebs, snapshotId, sizeBytes, diskId } = options;
  const blocks = new SnapshotBlocks(caller, ebs, snapshotId);

  async function read(offsetBytes: number, lengthBytes: number): Promise<Buffer> {
    const problem = readRangeProblem(offsetBytes, lengthBytes, sizeBytes);
    if (problem !== null)
      throw targetErrorOf(
        new RangeError(problem),
        'EXTENTLOG_ERR_TARGET_READ',
        `disk ${diskId}: reading snapshot ${snapshotId}`,
      );
    const output = Buffer.alloc(lengthBytes);
    const endBytes = offsetBytes + lengthBytes;
    const indexes: number[] = [];
    for (
      let block = Math.floor(offsetBytes / EBS_BLOCK_BYTES);
      block * EBS_BLOCK_BYTES < endBytes;
      block++
    )
      indexes.push(block);
    const readOne = async (blockIndex: number) => {
      const block = await blocks.read(blockIndex);
      if (block === null) return; // unlisted: zeros, as allocated
      const blockStart = blockIndex * EBS_BLOCK_BYTES;
      const from = Math.max(offsetBytes, blockStart);
      const to = Math.min(endBytes, blockStart + EBS_BLOCK_BYTES);
      block.data.copy(output, from - offsetBytes, from - blockStart, to - blockStart);
    };
    try {
      // Tokens first, in order (one listing page serves many blocks), then the reads in parallel.
      for (const blockIndex of indexes) await blocks.index.tokenOf(blockIndex);
      for (let at = 0; at < indexes.length; at += options.readConcurrency)
        await Promise.all(indexes.slice(at, at + options.readConcurrency).map(readOne));
    } catch (error) {
      throw targetErrorOf(
        error,
        'EXTENTLOG_ERR_TARGET_READ',
        `disk ${diskId}: reading snapshot ${snapshotId} at offset ${offsetBytes}`,
      );
    }
    return output;
  }

  async function* dataRanges(): AsyncIterable<DiskRange> {
    let open: { startBytes: number; endBytes: number } | null = null;
    try {
      for await (const page of pagesOf((nextToken) =>
        listSnapshotBlocksPage(caller, ebs, snapshotId, { nextToken }),
      )) {
        for (const block of page.blocks) {
          const startBytes = block.blockIndex * EBS_BLOCK_BYTES;
          if (startBytes >= sizeBytes) continue;
          const endBytes = Math.min(sizeBytes, startBytes + EBS_BLOCK_BYTES);
          if (open !== null && open.endBytes === startBytes) open.endBytes = endBytes;
          else {
            if (open !== null) yield open;
            open = { startBytes, endBytes };
          }
        }
      }
    } catch (error) {
      throw targetErrorOf(
        error,
        'EXTENTLOG_ERR_TARGET_READ',
        `disk ${diskId}: listing snapshot ${snapshotId}`,
      );
    }
    if (open !== null) yield open;
  }

  return { sizeBytes, read, dataRanges, close: async () => undefined };
}
