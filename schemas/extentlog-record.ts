/**
 * The records of a `<prefix>.<feed>.extents` topic (value schema `extent-record.avsc`, a
 * union of four records). Offsets, lengths, sizes, seq, epoch and millisecond times are
 * numbers, always non-negative safe integers; nanosecond times and journal sequences are
 * bigints because they exceed 2^53.
 *
 * Every record carries feed, disk, epoch and seq. seq counts all of a disk's records
 * (markers and heartbeats too) and grows by exactly 1, so a consumer sees any gap.
 */

export type ExtentOp = 'WRITE' | 'ZERO' | 'DISCARD';
export type SyncMode = 'FULL' | 'INCREMENTAL' | 'CONTINUOUS';
export type SyncConsistency = 'CRASH_CONSISTENT' | 'APP_CONSISTENT';

export interface RecordEnvelope {
  readonly feed: string;
  readonly disk: string;
  readonly epoch: number;
  readonly seq: number;
}

/** Where an extent came from in the source's own terms; null where the source has none. */
export interface ExtentProvenance {
  readonly changeId: string | null;
  readonly snapshotId: string | null;
  readonly journalSeq: bigint | null;
}

export interface ExtentRecord extends RecordEnvelope {
  readonly type: 'extent';
  /** Half-open [offsetBytes, offsetBytes + lengthBytes) on the disk. */
  readonly offsetBytes: number;
  readonly lengthBytes: number;
  readonly op: ExtentOp;
  /** Unsigned CRC-32C, see `extentCrc32c` in extent-crc.ts. */
  readonly crc32c: number;
  readonly issuedAtNs: bigint;
  readonly completedAtNs: bigint;
  readonly provenance: ExtentProvenance;
  /** lengthBytes bytes for WRITE, null for ZERO and DISCARD. Decoded as a view of the frame. */
  readonly data: Buffer | null;
}

export interface SyncBeginRecord extends RecordEnvelope {
  readonly type: 'sync-begin';
  readonly mode: SyncMode;
  readonly diskSizeBytes: number;
  readonly blockSizeBytes: number;
  readonly sourceReference: string;
  readonly baseEpoch: number | null;
  readonly baseReference: string | null;
  /** Why a FULL (or hash-compare) epoch replaces change tracking, e.g. 'CBT reset'. */
  readonly rebaselineReason: string | null;
  readonly startedAtMs: number;
}

export interface SyncCommitRecord extends RecordEnvelope {
  readonly type: 'sync-commit';
  readonly extentCount: number;
  readonly dataBytes: number;
  /** Hex sha256 of the epoch's extents, see epoch-digest.ts. */
  readonly digest: string;
  readonly sourceReference: string;
  readonly consistency: SyncConsistency;
  readonly committedAtMs: number;
}

export interface HeartbeatRecord extends RecordEnvelope {
  readonly type: 'heartbeat';
  readonly lastCommittedEpoch: number | null;
  readonly sentAtMs: number;
}

export type ExtentlogRecord = ExtentRecord | SyncBeginRecord | SyncCommitRecord | HeartbeatRecord;

export type ExtentlogRecordType = ExtentlogRecord['type'];
