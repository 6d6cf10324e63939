/**
 * The target port. The replay engine (`replay.ts`) hands a target the records of one disk
 * in log order; the target applies them and makes them durable on `flush()`. Offsets are
 * committed, and restore points announced, only after `flush()` resolved.
 *
 * Every apply must be idempotent: after a crash, the engine re-applies records from the last
 * committed offset, so the same bytes may be written to the same place twice.
 */

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

export interface Target {
  /** A short name for logs and status: 'file', 'iscsi', 's3', 'ebs', … */
  readonly kind: string;
  /** Opens (creating where needed) the target of one disk; refuses one that is too small. */
  openDisk(disk: TargetDiskInfo): Promise<TargetDisk>;
  close(): Promise<void>;
}
