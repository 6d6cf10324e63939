/**
 * Reading one block of a completed snapshot (EBS direct APIs `GetSnapshotBlock`,
 * `GET /snapshots/{id}/blocks/{index}?blockToken=…`) and verifying it: the body must be
 * `x-amz-Data-Length` (524288) bytes whose SHA-256 equals `x-amz-Checksum`. A mismatch is
 * read again (a transfer fault); one that persists is an error, never data.
 */
import { GetSnapshotBlockCommand, type EBSClient } from '@aws-sdk/client-ebs';
import { CloudError } from '../errors.js';
import type { AwsCaller } from './aws-caller.js';
import { blockSha256, EBS_BLOCK_BYTES } from './ebs-checksums.js';

export interface BlockReadOptions {
  /** Reads of a block whose checksum does not match, before giving up. */
  readonly checksumAttempts?: number;
  /** Called for each mismatch that is read again. */
  readonly onChecksumMismatch?: (blockIndex: number, attempt: number) => void;
}

export interface VerifiedBlock {
  readonly data: Buffer;
  readonly sha256: Buffer;
}

export async function readSnapshotBlock(
  caller: AwsCaller,
  ebs: EBSClient,
  snapshotId: string,
  blockIndex: number,
  blockToken: string,
  options: BlockReadOptions = {},
): Promise<VerifiedBlock> {
  const attempts = options.checksumAttempts ?? 3;
  let problem = '';
  for (let attempt = 1; attempt <= attempts; attempt++) {
    const { data, checksum, algorithm, dataLength } = await caller.call(
      `GetSnapshotBlock ${snapshotId} block ${blockIndex}`,
      async () => {
        const response = await ebs.send(
          new GetSnapshotBlockCommand({
            SnapshotId: snapshotId,
            BlockIndex: blockIndex,
            BlockToken: blockToken,
          }),
        );
        const bytes = (await response.BlockData?.transformToByteArray()) ?? new Uint8Array();
        return {
          data: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength),
          checksum: response.Checksum ?? null,
          algorithm: response.ChecksumAlgorithm ?? null,
          dataLength: response.DataLength ?? null,
        };
      },
    );
    const sha256 = blockSha256(data);
    if (algorithm !== 'SHA256')
      problem = `x-amz-Checksum-Algorithm is ${String(algorithm)}, expected SHA256`;
    else if (data.length !== EBS_BLOCK_BYTES || dataLength !== EBS_BLOCK_BYTES)
      problem = `${data.length} bytes arrived (x-amz-Data-Length ${String(dataLength)}), expected ${EBS_BLOCK_BYTES}`;
    else if (checksum !== sha256.toString('base64'))
      problem = `x-amz-Checksum is ${String(checksum)}, the data's SHA-256 is ${sha256.toString('base64')}`;
    else return { data, sha256 };
    if (attempt < attempts) options.onChecksumMismatch?.(blockIndex, attempt);
  }
  throw new CloudError(
    'EXTENTLOG_ERR_CLOUD_CHECKSUM',
    `GetSnapshotBlock ${snapshotId} block ${blockIndex} (offset ${blockIndex * EBS_BLOCK_BYTES}): ${problem}, in each of ${attempts} reads; the block is not used`,
    { details: { snapshotId, blockIndex, attempts } },
  );
}
