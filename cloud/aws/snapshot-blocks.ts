/**
 * Random access to the blocks of a completed snapshot by index: the token from a cached
 * listing page (`SnapshotBlockIndex`), the data from a verified `GetSnapshotBlock`. A block
 * the snapshot does not list reads as null (zeros). A token refused as expired is listed
 * again once; refused again, it is an error.
 */
import type { EBSClient } from '@aws-sdk/client-ebs';
import { CloudError } from '../errors.js';
import type { AwsCaller } from './aws-caller.js';
import { SnapshotBlockIndex } from './ebs-block-lists.js';
import { readSnapshotBlock, type VerifiedBlock } from './ebs-block-read.js';

export class SnapshotBlocks {
  readonly index: SnapshotBlockIndex;

  constructor(
    private readonly caller: AwsCaller,
    private readonly ebs: EBSClient,
    readonly snapshotId: string,
  ) {
    this.index = new SnapshotBlockIndex(caller, ebs, snapshotId);
  }

  async read(blockIndex: number): Promise<VerifiedBlock | null> {
    for (let attempt = 1; ; attempt++) {
      const token = await this.index.tokenOf(blockIndex);
      if (token === null) return null;
      try {
        return await readSnapshotBlock(this.caller, this.ebs, this.snapshotId, blockIndex, token);
      } catch (error) {
        if (!(error instanceof CloudError) || error.details.awsReason !== 'INVALID_BLOCK_TOKEN')
          throw error;
        if (attempt >= 2)
          throw new CloudError(
            'EXTENTLOG_ERR_CLOUD_BLOCK_TOKEN',
            `GetSnapshotBlock ${this.snapshotId} block ${blockIndex}: a freshly listed token was refused too (${error.message}); check the clocks and the snapshot`,
            { cause: error, details: { snapshotId: this.snapshotId, blockIndex } },
          );
        this.index.invalidate();
      }
    }
  }
}
