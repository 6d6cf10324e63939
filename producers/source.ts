/**
 * The source port. A source knows which blocks of a disk changed since a reference and
 * hands out a reader over a consistent view of the disk at the new reference. Every
 * platform adapter (image hash-compare, QEMU dirty bitmaps, VMware CBT, RBD diffs, EBS
 * direct, GET LBA STATUS, the kernel journal, …) implements `ChangeSource`; the feed runtime
 * (`feed.ts`) turns what it yields into records.
 *
 * Offsets and lengths are in bytes; every range is half-open [offsetBytes, offsetBytes + lengthBytes).
 */

export type ExtentOp = 'WRITE' | 'ZERO' | 'DISCARD';
export type SyncMode = 'FULL' | 'INCREMENTAL' | 'CONTINUOUS';

/** A disk a source protects. `diskId` is the record key: stable for the life of the disk. */
export interface DiskInfo {
  readonly diskId: string;
  readonly sizeBytes: number;
  /** The source's change-tracking granularity; extents are aligned to it (except at the disk's end). */
  readonly blockSizeBytes: number;
}

/**
 * Where a disk's replication stands, as read back from the log: the source reference of the
 * last committed epoch (snapshot id, changeId, bitmap name, hash-map digest, journal
 * sequence …) or null when nothing was ever committed.
 */
export interface CommittedReference {
  readonly epoch: number;
  readonly reference: string;
}

/** Provenance carried into every Extent record of a cycle (all optional). */
export interface Provenance {
  readonly changeId?: string;
  readonly snapshotId?: string;
  readonly journalSeq?: bigint;
}

/** A range that changed. WRITE: read it (or take `data`); ZERO: reads as zeros; DISCARD: unmapped. */
export interface ChangedExtent {
  readonly kind: 'extent';
  readonly offsetBytes: number;
  readonly lengthBytes: number;
  readonly op: ExtentOp;
  /** Set by sources that already hold the bytes (journals); otherwise the feed reads them. */
  readonly data?: Buffer;
  readonly issuedAtNs?: bigint;
  readonly completedAtNs?: bigint;
  readonly provenance?: Provenance;
}

/** CONTINUOUS sources mark the points at which everything yielded so far is consistent. */
export interface ConsistencyPoint {
  readonly kind: 'consistency-point';
  /** The reference a restart would resume from once this point is committed. */
  readonly reference: string;
}

export type ChangeItem = ChangedExtent | ConsistencyPoint;

export interface BlockReader {
  /** Reads exactly `lengthBytes` at `offsetBytes` from the consistent view. */
  read(offsetBytes: number, lengthBytes: number): Promise<Buffer>;
}

/** One sync cycle of one disk, opened against a consistent view. */
export interface ChangeSet {
  readonly disk: DiskInfo;
  readonly mode: SyncMode;
  /** The reference this cycle makes current once committed. */
  readonly reference: string;
  /** The reference it is relative to (null for FULL). */
  readonly baseReference: string | null;
  /** Why a FULL was chosen when an incremental was possible in principle (re-baseline), if so. */
  readonly rebaselineReason?: string;
  /** Ordered by offset for FULL/INCREMENTAL; in completion order for CONTINUOUS. */
  changes(): AsyncIterable<ChangeItem>;
  readonly reader: BlockReader;
  /** Called once the cycle's SyncCommit is durable in the log: drop the old reference. */
  commit(): Promise<void>;
  /** CONTINUOUS only: the SyncCommit of this consistency point is durable in the log. */
  commitConsistencyPoint?(reference: string): Promise<void>;
  /** Called when the cycle is abandoned: release the view, keep the old reference. */
  abort(reason: unknown): Promise<void>;
  /**
   * CONTINUOUS only: finish the change stream at its next consistency point (at once when
   * nothing is pending), so that the cycle commits and returns. The feed calls it when it
   * stops; a stream that never ends on its own needs it.
   */
  end?(): void;
}

/**
 * The fields that place a ChangeSet: its mode, the reference it makes current, the one it is
 * relative to, and `rebaselineReason` only when there is one.
 */
export function cycleBasis(
  mode: SyncMode,
  basis: {
    readonly reference: string;
    readonly baseReference: string | null;
    readonly rebaselineReason?: string;
  },
): Pick<ChangeSet, 'mode' | 'reference' | 'baseReference' | 'rebaselineReason'> {
  return {
    mode,
    reference: basis.reference,
    baseReference: basis.baseReference,
    ...(basis.rebaselineReason === undefined ? {} : { rebaselineReason: basis.rebaselineReason }),
  };
}

export interface ChangeSource {
  /** A short name for logs and status: 'image', 'qemu', 'vmware', 'rbd', 'ebs', … */
  readonly kind: string;
  disks(): Promise<readonly DiskInfo[]>;
  /**
   * Opens the next cycle of a disk. `since` is null for the first cycle, or when the caller
   * asks for a re-baseline; a source that cannot honour `since` (bitmap lost, CBT reset,
   * snapshot deleted) opens a FULL cycle and says why in `rebaselineReason`.
   */
  open(disk: DiskInfo, since: CommittedReference | null): Promise<ChangeSet>;
  close(): Promise<void>;
}
