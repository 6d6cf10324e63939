/**
 * Pure-TypeScript stand-ins for `fileio` calls, for when the addon is not built or the
 * filesystem refuses the call (EOPNOTSUPP). Callers choose them explicitly: a fallback is
 * slower (writing zeros allocates where a punched hole would not) or different (SHA-256
 * digests never compare equal to XXH3 ones, so hash files record which one wrote them).
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { promisify } from 'node:util';
import { NativeError } from '../errors.js';

const write = promisify(fs.write);

/** Zeros are written in chunks of this size, so memory stays bounded for any range. */
export const ZERO_CHUNK_BYTES = 1024 * 1024;
const zeros = Buffer.alloc(ZERO_CHUNK_BYTES);

/** Digest size of `hashBlocksSha256`: SHA-256 truncated to 128 bits. */
export const SHA256_128_DIGEST_BYTES = 16;

/** Makes [offsetBytes, offsetBytes + lengthBytes) read as zeros by writing them. */
export async function writeZeros(fd: number, offsetBytes: number, lengthBytes: number) {
  if (!Number.isSafeInteger(offsetBytes + lengthBytes) || offsetBytes < 0 || lengthBytes < 0)
    throw new NativeError(
      'EXTENTLOG_ERR_NATIVE_INVALID_ARGUMENT',
      `writeZeros: range [${offsetBytes}, +${lengthBytes}) must be non-negative safe integers`,
    );
  for (let doneBytes = 0; doneBytes < lengthBytes;) {
    const chunkBytes = Math.min(ZERO_CHUNK_BYTES, lengthBytes - doneBytes);
    const { bytesWritten } = await write(fd, zeros, 0, chunkBytes, offsetBytes + doneBytes);
    doneBytes += bytesWritten;
  }
}

/** SHA-256 (truncated to 16 bytes) of each `blockSizeBytes` block; the last one may be short. */
export function hashBlocksSha256(buffer: Buffer, blockSizeBytes: number): Buffer {
  if (!Number.isSafeInteger(blockSizeBytes) || blockSizeBytes < 1)
    throw new NativeError(
      'EXTENTLOG_ERR_NATIVE_INVALID_ARGUMENT',
      `hashBlocksSha256: blockSizeBytes must be a positive integer, received ${blockSizeBytes}`,
    );
  const blocks = Math.ceil(buffer.length / blockSizeBytes);
  const digests = Buffer.allocUnsafe(blocks * SHA256_128_DIGEST_BYTES);
  for (let block = 0; block < blocks; block++) {
    const start = block * blockSizeBytes;
    createHash('sha256')
      .update(buffer.subarray(start, start + blockSizeBytes))
      .digest()
      .copy(digests, block * SHA256_128_DIGEST_BYTES, 0, SHA256_128_DIGEST_BYTES);
  }
  return digests;
}
