/**
 * Block digests for the image source's hash compare. Two algorithms, never compared with
 * each other (the hash file records which one wrote it):
 *   1  xxh3-128    XXH3-128 from libxxhash through the `fileio` addon (~17 GB/s)
 *   2  sha256-128  SHA-256 truncated to 128 bits, pure Node.js, for machines without the addon
 * A block that reads as zeros gets the all-zero digest instead of its hash, so zero blocks and
 * holes compare equal and leave holes in the sparse hash file.
 */
import * as fileio from '../../native/fileio/index.js';
import { hashBlocksSha256 } from '../../native/fileio/fallbacks.js';

export type HashAlgorithmName = 'xxh3-128' | 'sha256-128';

const ALGORITHMS: Readonly<
  Record<
    HashAlgorithmName,
    { id: number; hash(buffer: Buffer, blockSizeBytes: number): Promise<Buffer> }
  >
> = {
  'xxh3-128': {
    id: 1,
    hash: (buffer, blockSizeBytes) => fileio.hashBlocks(buffer, blockSizeBytes),
  },
  'sha256-128': {
    id: 2,
    hash: async (buffer, blockSizeBytes) => hashBlocksSha256(buffer, blockSizeBytes),
  },
};

export const DIGEST_BYTES = 16;

export function algorithmNameOf(id: number): string {
  const entry = Object.entries(ALGORITHMS).find(([, algorithm]) => algorithm.id === id);
  return entry?.[0] ?? `unknown algorithm ${id}`;
}

export function isHashAlgorithmName(name: string): name is HashAlgorithmName {
  return Object.hasOwn(ALGORITHMS, name);
}

export interface BlockHasher {
  readonly name: HashAlgorithmName;
  readonly id: number;
  /**
   * Digests of the blocks of `window`, which starts at a block boundary; the disk's last
   * block may be short. Blocks that read as zeros get the all-zero digest.
   */
  hashWindow(window: Buffer): Promise<Buffer>;
}

export async function createBlockHasher(
  name: HashAlgorithmName,
  blockSizeBytes: number,
  diskSizeBytes: number,
): Promise<BlockHasher> {
  const algorithm = ALGORITHMS[name];
  const zeroDigest = await algorithm.hash(Buffer.alloc(blockSizeBytes), blockSizeBytes);
  const tailBytes = diskSizeBytes % blockSizeBytes;
  const tailZeroDigest =
    tailBytes === 0 ? zeroDigest : await algorithm.hash(Buffer.alloc(tailBytes), blockSizeBytes);

  return {
    name,
    id: algorithm.id,
    async hashWindow(window) {
      const digests = await algorithm.hash(window, blockSizeBytes);
      // Buffer#indexOf searches natively; most windows hold no zero block at all.
      for (
        let at = digests.indexOf(zeroDigest);
        at !== -1;
        at = digests.indexOf(zeroDigest, at + 1)
      )
        if (at % DIGEST_BYTES === 0) digests.fill(0, at, at + DIGEST_BYTES);
      if (window.length % blockSizeBytes !== 0) {
        const last = digests.length - DIGEST_BYTES;
        if (digests.compare(tailZeroDigest, 0, DIGEST_BYTES, last) === 0) digests.fill(0, last);
      }
      return digests;
    },
  };
}
