/**
 * The epoch digest a SyncCommit carries: sha256 over, for each Extent of the epoch in seq
 * order, its 33-byte checksum header (see extent-crc.ts) followed by its crc32c as u32 BE.
 * It covers position and content of every extent without hashing the data twice; the
 * producer computes it while publishing, the consumer while applying, and the consumer
 * compares the two at SyncCommit.
 */
import { createHash, type Hash } from 'node:crypto';
import { EXTENT_HEADER_BYTES, writeExtentHeader } from './extent-crc.js';
import { SchemaError } from './errors.js';
import type { ExtentRecord } from './extentlog-record.js';

export type EpochDigestInput = Pick<
  ExtentRecord,
  'epoch' | 'seq' | 'offsetBytes' | 'lengthBytes' | 'op' | 'crc32c'
>;

export interface EpochDigest {
  readonly epoch: number;
  /** Extents added so far. */
  readonly extentCount: number;
  /** Adds the next extent of the epoch; seq must grow. */
  add(extent: EpochDigestInput): void;
  /** Lower-case hex sha256; the digest can keep growing afterwards. */
  hex(): string;
}

export function createEpochDigest(epoch: number): EpochDigest {
  const hash: Hash = createHash('sha256');
  const entry = Buffer.alloc(EXTENT_HEADER_BYTES + 4);
  let lastSeq = -1;
  let extentCount = 0;
  return {
    epoch,
    get extentCount() {
      return extentCount;
    },
    add(extent) {
      if (extent.epoch !== epoch)
        throw new SchemaError(
          'EXTENTLOG_ERR_SCHEMA_INVALID_RECORD',
          `epoch digest: expected an extent of epoch ${epoch}, received one of epoch ${extent.epoch} (seq ${extent.seq})`,
        );
      if (extent.seq <= lastSeq)
        throw new SchemaError(
          'EXTENTLOG_ERR_SCHEMA_INVALID_RECORD',
          `epoch digest of epoch ${epoch}: expected seq above ${lastSeq}, received ${extent.seq}; extents are digested in seq order`,
        );
      writeExtentHeader(entry, extent);
      entry.writeUInt32BE(extent.crc32c, EXTENT_HEADER_BYTES);
      hash.update(entry);
      lastSeq = extent.seq;
      extentCount += 1;
    },
    hex() {
      return hash.copy().digest('hex');
    },
  };
}
