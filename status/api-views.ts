/**
 * The status API's answers, built from the read model and the latest lag sample: what an
 * operator asks ("is every disk protected, how far behind is each target") computed once
 * here, so the API, the page and `extentlog status` say the same thing.
 */
import type { ErrorLog, ErrorEvent } from './error-log.js';
import type {
  CycleView,
  ErrorView,
  FeedDiskView,
  FeedView,
  RestorePointView,
  StatusReadModel,
  TargetDiskView,
  TargetView,
} from './read-model.js';
import type { LagBytesMethod } from './lag-bytes.js';
import type { LagSample, StatusSampler } from './status-sampler.js';
import type { PartitionLag } from './target-lag.js';

export type FeedDiskSummary = FeedDiskView & { readonly changeRateBytesPerSecond: number | null };
export type FeedSummary = Omit<FeedView, 'disks'> & { readonly disks: readonly FeedDiskSummary[] };

export interface TargetDiskSummary extends Omit<TargetDiskView, 'lastRestorePoint'> {
  readonly lagSeconds: number | null;
  readonly applyBytesPerSecond: number | null;
  readonly lastRestorePoint: RestorePointView | null;
}

export type TargetPartitionSummary = Omit<PartitionLag, 'records' | 'bytes' | 'bytesMethod'> & {
  readonly lagRecords: number;
  readonly lagBytes: number | null;
  readonly lagBytesMethod: LagBytesMethod;
};

export interface TargetSummary {
  readonly target: string;
  readonly targetKind: string;
  readonly groupId: string;
  readonly paused: boolean;
  readonly feeds: readonly string[];
  readonly lag: {
    readonly sampledAtMs: number | null;
    readonly records: number | null;
    readonly bytes: number | null;
    readonly bytesMethod: LagBytesMethod;
    readonly seconds: number | null;
  };
  readonly partitions: readonly TargetPartitionSummary[];
  readonly disks: readonly TargetDiskSummary[];
  readonly lastError: ErrorView | null;
}

export interface Overview {
  readonly generatedAtMs: number;
  readonly protected: boolean;
  readonly problems: readonly string[];
  readonly feeds: readonly FeedSummary[];
  readonly targets: readonly TargetSummary[];
  readonly lagHistory: readonly LagSample[];
  readonly errors: readonly ErrorEvent[];
}

/**
 * Bytes changed per second of source time: each non-FULL cycle's bytes over the time since
 * the cycle before it started (that is the span its changes accumulated in).
 */
export function changeRateBytesPerSecond(cycles: readonly CycleView[]): number | null {
  let bytes = 0;
  let spanMs = 0;
  for (let index = 1; index < cycles.length; index += 1) {
    const cycle = cycles[index]!;
    if (cycle.mode === 'FULL') continue;
    bytes += cycle.dataBytes + cycle.zeroBytes;
    spanMs += cycle.startedAtMs - cycles[index - 1]!.startedAtMs;
  }
  return spanMs > 0 ? (bytes * 1000) / spanMs : null;
}

export function feedSummary(feed: FeedView): FeedSummary {
  return {
    ...feed,
    disks: feed.disks.map((disk) => ({
      ...disk,
      changeRateBytesPerSecond: changeRateBytesPerSecond(disk.recentCycles),
    })),
  };
}

function newest(errors: readonly (ErrorView | null)[]): ErrorView | null {
  let found: ErrorView | null = null;
  for (const error of errors)
    if (error !== null && (found === null || error.atMs > found.atMs)) found = error;
  return found;
}

/**
 * A target's error: the newest one its disks report; or, while a failed partition starts
 * over (its disks are gone from the status until records arrive again), the newest one
 * logged for a disk the target does not show now.
 */
function targetError(target: TargetView, errors: ErrorLog): ErrorView | null {
  const current = newest(target.disks.map((disk) => disk.lastError));
  if (current !== null) return current;
  const logged = errors.latest('target', target.target);
  if (logged === undefined) return null;
  const shown = target.disks.some(
    (disk) => disk.feed === logged.feed && disk.diskId === logged.diskId,
  );
  return shown ? null : { code: logged.code, message: logged.message, atMs: logged.atMs };
}

export function targetSummary(
  target: TargetView,
  sampler: StatusSampler,
  errors: ErrorLog,
): TargetSummary {
  const lag = sampler.latest(target.target);
  const diskLag = new Map(lag?.disks.map((disk) => [`${disk.feed}/${disk.diskId}`, disk.seconds]));
  return {
    target: target.target,
    targetKind: target.targetKind,
    groupId: target.groupId,
    paused: target.paused,
    feeds: target.feeds.map(({ feed }) => feed),
    lag: {
      sampledAtMs: lag?.sampledAtMs ?? null,
      records: lag?.records ?? null,
      bytes: lag?.bytes ?? null,
      bytesMethod: lag?.bytesMethod ?? 'unknown',
      seconds: lag?.seconds ?? null,
    },
    partitions: (lag?.partitions ?? []).map(({ records, bytes, bytesMethod, ...entry }) => ({
      ...entry,
      lagRecords: records,
      lagBytes: bytes,
      lagBytesMethod: bytesMethod,
    })),
    disks: target.disks.map((disk) => ({
      ...disk,
      lagSeconds: diskLag.get(`${disk.feed}/${disk.diskId}`) ?? null,
      applyBytesPerSecond: sampler.applyBytesPerSecond(target.target, disk.feed, disk.diskId),
    })),
    lastError: targetError(target, errors),
  };
}

/** What keeps the process from "every disk protected", one line each. */
export function problemsOf(
  feeds: readonly FeedSummary[],
  targets: readonly TargetSummary[],
  sampler: StatusSampler,
): string[] {
  const problems: string[] = [];
  for (const feed of feeds)
    for (const disk of feed.disks) {
      if (disk.phase === 'failed' || disk.lastError !== null)
        problems.push(
          `feed ${feed.feed} disk ${disk.diskId}: ${disk.lastError?.code ?? 'failed'}${disk.lastError === null ? '' : ` — ${disk.lastError.message}`}`,
        );
      if (disk.lastCommittedEpoch === null && disk.phase !== 'syncing')
        problems.push(`feed ${feed.feed} disk ${disk.diskId}: no committed epoch yet`);
    }
  for (const target of targets) {
    if (target.paused) problems.push(`target ${target.target}: paused`);
    if (target.lastError !== null && target.disks.every((disk) => disk.lastError === null))
      problems.push(
        `target ${target.target}: retrying after ${target.lastError.code} — ${target.lastError.message}`,
      );
    for (const disk of target.disks) {
      if (disk.lastError !== null)
        problems.push(
          `target ${target.target} disk ${disk.feed}/${disk.diskId}: ${disk.lastError.code} — ${disk.lastError.message}`,
        );
      else if (disk.state === 'waiting')
        problems.push(
          `target ${target.target} disk ${disk.feed}/${disk.diskId}: waiting for a FULL epoch`,
        );
      if (disk.lastRestorePoint === null)
        problems.push(
          `target ${target.target} disk ${disk.feed}/${disk.diskId}: no restore point yet`,
        );
    }
  }
  if (sampler.lastError !== null) problems.push(`lag unknown: ${sampler.lastError.message}`);
  else if (sampler.lastSuccessAtMs === null && targets.length > 0)
    problems.push('lag not measured yet');
  return problems;
}

export function overview(
  model: StatusReadModel,
  sampler: StatusSampler,
  errors: ErrorLog,
  nowMs: number,
): Overview {
  const feeds = model.feeds().map(feedSummary);
  const targets = model.targets().map((target) => targetSummary(target, sampler, errors));
  const problems = problemsOf(feeds, targets, sampler);
  return {
    generatedAtMs: nowMs,
    protected: problems.length === 0,
    problems,
    feeds,
    targets,
    lagHistory: sampler.history(),
    errors: errors.recent(),
  };
}
