/**
 * What the status API may see and do: read-only views of the feeds and targets a process
 * runs, the log's offsets, and a handful of operator actions. The composition root
 * (`bin/status-read-model.ts`) implements these over the runtime; the status API never
 * reaches into producers/ or consumers/ (DESIGN.md §4), and unit tests use in-memory fakes.
 *
 * Times are milliseconds since the epoch; sizes are bytes.
 */
import type { LogAdmin, LogClient } from '../log/log-client.js';
import type { RestorePoint } from '../schemas/restore-point.js';

export type SyncModeView = 'FULL' | 'INCREMENTAL' | 'CONTINUOUS';

export interface ErrorView {
  readonly code: string;
  readonly message: string;
  readonly atMs: number;
}

export interface ChangeMapView {
  readonly bucketBytes: number;
  readonly changedBytes: readonly number[];
}

export interface CycleView {
  readonly epochs: readonly number[];
  readonly mode: SyncModeView;
  readonly startedAtMs: number;
  readonly durationMs: number;
  readonly extentRecords: number;
  readonly dataBytes: number;
  readonly zeroBytes: number;
  readonly rebaselineReason: string | null;
  readonly changeMap: ChangeMapView;
}

export interface CycleProgressView {
  readonly epoch: number;
  readonly mode: SyncModeView;
  readonly positionBytes: number;
  readonly diskSizeBytes: number;
  readonly extentRecords: number;
  readonly dataBytes: number;
  readonly zeroBytes: number;
}

export interface FeedDiskView {
  readonly diskId: string;
  readonly partition: number | null;
  /** starting, idle, syncing, failed, paused, stopped */
  readonly phase: string;
  readonly sizeBytes: number;
  readonly currentEpoch: number | null;
  readonly lastCommittedEpoch: number | null;
  readonly lastCommittedAtMs: number | null;
  readonly progress: CycleProgressView | null;
  readonly lastCycle: CycleView | null;
  /** Oldest first. */
  readonly recentCycles: readonly CycleView[];
  readonly published: {
    readonly extentRecords: number;
    readonly dataBytes: number;
    readonly zeroBytes: number;
    readonly heartbeats: number;
  };
  readonly lastError: ErrorView | null;
  readonly rebaselineRequested: string | null;
}

export interface FeedView {
  readonly feed: string;
  readonly topic: string;
  readonly sourceKind: string;
  readonly paused: boolean;
  readonly disks: readonly FeedDiskView[];
}

/** A restore point as the restore-points topic holds it (schemas/restore-point.avsc). */
export type RestorePointView = RestorePoint;

export interface TargetPartitionView {
  readonly topic: string;
  readonly partition: number;
  /** Offset of the next record the replay will read. */
  readonly nextOffset: number;
  readonly committedOffset: number | null;
  readonly paused: boolean;
}

export interface TargetDiskView {
  readonly feed: string;
  readonly diskId: string;
  readonly topic: string;
  readonly partition: number;
  /** waiting, in-epoch, between-epochs, stopped */
  readonly state: string;
  readonly currentEpoch: number | null;
  readonly lastRestorePoint: RestorePointView | null;
  readonly appliedRecords: number;
  readonly appliedBytes: number;
  /** Source time of the newest record applied (heartbeats included). */
  readonly newestAppliedSourceTimeMs: number | null;
  readonly lastError: ErrorView | null;
}

export interface TargetView {
  readonly target: string;
  readonly targetKind: string;
  readonly groupId: string;
  readonly paused: boolean;
  /** The feeds it follows and their topics. */
  readonly feeds: readonly { readonly feed: string; readonly topic: string }[];
  /** Partitions assigned to this process's member of the group. */
  readonly partitions: readonly TargetPartitionView[];
  readonly disks: readonly TargetDiskView[];
}

/** The log as the status API reads it: offsets, group offsets and record ranges. */
export type StatusLog = Pick<LogAdmin, 'offsets' | 'groupOffsets'> & Pick<LogClient, 'readRange'>;

export interface StatusReadModel {
  feeds(): readonly FeedView[];
  targets(): readonly TargetView[];
  /** Every restore point the restore-points topic retains, in log order. */
  restorePoints(): Promise<readonly RestorePointView[]>;
  readonly log: StatusLog;
  /** Bytes the embedded broker's store occupies; null when the log is an external cluster. */
  brokerDiskUsageBytes(): number | null;
  /** Calls `listener` after any feed's or target's status changed; returns the unsubscribe. */
  subscribe(listener: () => void): () => void;
}

/**
 * Operator actions. Each throws `StatusError('EXTENTLOG_ERR_STATUS_NOT_FOUND')` for an unknown
 * feed, target or disk; a cycle started by `syncNow` runs in the background.
 */
export interface StatusActions {
  syncNow(feed: string, diskIds?: readonly string[]): void;
  pauseFeed(feed: string): void;
  resumeFeed(feed: string): void;
  pauseTarget(target: string): void;
  resumeTarget(target: string): void;
  /** The disk's next cycle is FULL; `syncNow` starts it at once. */
  requestRebaseline(feed: string, diskId: string, reason: string, syncNow: boolean): void;
}
