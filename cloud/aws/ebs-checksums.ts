/**
 * Checksums of the EBS direct APIs: each 512 KiB block carries the base64 SHA-256 of its
 * data (`x-amz-Checksum`, `x-amz-Checksum-Algorithm: SHA256`); CompleteSnapshot carries the
 * LINEAR aggregate — SHA-256 over the concatenated raw per-block SHA-256 digests, in
 * ascending block index order, base64.
 */
import { createHash } from 'node:crypto';

/** The EBS direct APIs' fixed block size. */
export const EBS_BLOCK_BYTES = 512 * 1024;
export const GiB = 1024 * 1024 * 1024;

export function blockSha256(data: Uint8Array): Buffer {
  return createHash('sha256').update(data).digest();
}

/** The LINEAR aggregate of per-block digests given in ascending block index order. */
export function linearAggregate(digestsInIndexOrder: Iterable<Buffer>): string {
  const hash = createHash('sha256');
  for (const digest of digestsInIndexOrder) hash.update(digest);
  return hash.digest('base64');
}
