/**
 * The target port. The replay engine (`replay.ts`) hands a target the records of one disk
 * in log order; the target applies them and makes them durable on `flush()`. Offsets are
 * committed, and restore points announced, only after `flush()` resolved.
 *
 * Every apply must be idempotent: after a crash, the engine re-applies records from the last
 * committed offset, so the same bytes may be written to the same place twice.
 *
 * Reading back (`openRestorePoint`, optional) serves `extentlog verify` and `extentlog
 * restore`: a target that can hand out the disk as of a restore point implements it.
 */
import type { RestorePoint } from '../schemas/restore-point.js';

export type ExtentOp = 'WRITE' | 'ZERO' | 'DISCARD';

export interface TargetDiskInfo {
  readonly feed: string;
  readonly diskId: string;
  readonly sizeBytes: number;
  readonly blockSizeBytes: number;
}

/** Half-open [offsetBytes, offsetBytes + lengthBytes); `data` only for WRITE. */
export interface ApplyExtent {
  readonly offsetBytes: number;
  readonly lengthBytes: number;
  readonly op: ExtentOp;
  readonly data: Buffer | null;
}

export interface EpochBegin {
  readonly epoch: number;
  readonly mode: 'FULL' | 'INCREMENTAL' | 'CONTINUOUS';
  readonly diskSizeBytes: number;
  readonly baseEpoch: number | null;
  readonly sourceReference: string;
}

export interface EpochCommit {
  readonly epoch: number;
  readonly extentCount: number;
  readonly bytes: number;
  /** Digest over the epoch's records (see schemas/digest.ts). */
  readonly digest: string;
  readonly sourceReference: string;
  readonly committedAtMs: number;
}

/** What a target says about a restore point it holds (object-store manifest key, snapshot id …). */
export interface RestorePointLocation {
  readonly location?: string;
}

export interface TargetDisk {
  /** Called for each SyncBegin; a FULL epoch on a larger disk grows the target when it can. */
  beginEpoch(begin: EpochBegin): Promise<void>;
  apply(extent: ApplyExtent): Promise<void>;
  /** Makes every extent applied so far durable (fsync, SYNCHRONIZE CACHE, completed PUTs). */
  flush(): Promise<void>;
  /** Called after `flush()` for a SyncCommit: seal the restore point where the target keeps one. */
  commitEpoch(commit: EpochCommit): Promise<RestorePointLocation>;
  close(): Promise<void>;
}

/** Half-open [startBytes, endBytes) in bytes. */
export interface DiskRange {
  readonly startBytes: number;
  readonly endBytes: number;
}

/** The disk as of one restore point, for reading. */
export interface RestorePointReader {
  /** The disk's size at the restore point. */
  readonly sizeBytes: number;
  /** Exactly `lengthBytes` at `offsetBytes`, within [0, sizeBytes). */
  read(offsetBytes: number, lengthBytes: number): Promise<Buffer>;
  /**
   * The ranges that may hold data, in order and within [0, sizeBytes); everything between
   * them reads as zeros. Absent when the target cannot tell: then all of it is data.
   */
  dataRanges?(): AsyncIterable<DiskRange>;
  close(): Promise<void>;
}

export interface Target {
  /** A short name for logs and status: 'file', 'iscsi', 's3', 'ebs', … */
  readonly kind: string;
  /** Opens (creating where needed) the target of one disk; refuses one that is too small. */
  openDisk(disk: TargetDiskInfo): Promise<TargetDisk>;
  /**
   * Opens `point` for reading. `newest` is the latest restore point of the same target and
   * disk in the restore-points topic: a target that keeps only its current state (a file
   * or block device) can serve `newest` alone and refuses any other point.
   */
  openRestorePoint?(point: RestorePoint, newest: RestorePoint): Promise<RestorePointReader>;
  close(): Promise<void>;
}
