/**
 * The text of the progress display: one line per disk of every feed (a bar while it syncs)
 * and of every target (its restore point and lag). Pure functions of the statuses and the
 * clock, so that what the terminal shows can be tested without one.
 */
import type { DiskStatus, FeedStatus } from '../producers/feed.js';
import type { ReplayStatus } from '../consumers/replay.js';

const MiB = 1024 * 1024;
const BAR_WIDTH = 24;

export function bar(fraction: number, width = BAR_WIDTH): string {
  const clamped = Math.min(1, Math.max(0, Number.isFinite(fraction) ? fraction : 0));
  const filled = Math.round(clamped * width);
  return `[${'█'.repeat(filled)}${'░'.repeat(width - filled)}]`;
}

export function mebibytes(bytes: number): string {
  return `${(bytes / MiB).toFixed(1)} MiB`;
}

/** 850ms, 12s, 3m05s, 2h01m. */
export function duration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '-';
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const seconds = Math.round(ms / 1000);
  if (seconds < 60) return `${seconds}s`;
  if (seconds < 3600)
    return `${Math.floor(seconds / 60)}m${String(seconds % 60).padStart(2, '0')}s`;
  return `${Math.floor(seconds / 3600)}h${String(Math.floor((seconds % 3600) / 60)).padStart(2, '0')}m`;
}

function ago(atMs: number | null, nowMs: number): string {
  return atMs === null ? 'never' : `${duration(nowMs - atMs)} ago`;
}

/**
 * When each cycle was first seen syncing, keyed by feed, disk and epoch: the origin of its
 * rate and ETA. Entries of cycles no longer syncing are dropped.
 */
export class CycleClock {
  readonly #startedAtMs = new Map<string, number>();

  startOf(key: string, nowMs: number): number {
    let startedAtMs = this.#startedAtMs.get(key);
    if (startedAtMs === undefined) {
      startedAtMs = nowMs;
      this.#startedAtMs.set(key, startedAtMs);
    }
    return startedAtMs;
  }

  keepOnly(keys: ReadonlySet<string>): void {
    for (const key of this.#startedAtMs.keys()) if (!keys.has(key)) this.#startedAtMs.delete(key);
  }
}

function syncingLine(disk: DiskStatus, elapsedMs: number): string {
  const progress = disk.progress;
  const positionBytes = progress?.positionBytes ?? 0;
  const sizeBytes = progress?.diskSizeBytes ?? disk.sizeBytes;
  const dataBytes = progress?.dataBytes ?? 0;
  const fraction = sizeBytes > 0 ? positionBytes / sizeBytes : 1;
  const seconds = elapsedMs / 1000;
  const rate = seconds > 0 ? dataBytes / 1e6 / seconds : 0;
  const positionRate = seconds > 0 ? positionBytes / seconds : 0;
  const eta =
    positionRate > 0 ? duration(((sizeBytes - positionBytes) / positionRate) * 1000) : '-';
  return [
    `${progress?.mode ?? 'SYNC'} e${disk.currentEpoch ?? '?'}`,
    bar(fraction),
    `${String(Math.floor(fraction * 100)).padStart(3)}%`,
    `${(positionBytes / MiB).toFixed(1)}/${mebibytes(sizeBytes)}`,
    `sent ${mebibytes(dataBytes)} data + ${mebibytes(progress?.zeroBytes ?? 0)} zero`,
    `${rate.toFixed(1)} MB/s`,
    `ETA ${eta}`,
  ].join('  ');
}

function idleLine(disk: DiskStatus, nowMs: number): string {
  const committed =
    disk.lastCommittedEpoch === null
      ? 'nothing committed yet'
      : `committed e${disk.lastCommittedEpoch} ${ago(disk.lastCommittedAtMs, nowMs)}`;
  const last = disk.lastCycle;
  const cycle =
    last === null
      ? ''
      : `  last ${last.mode} ${mebibytes(last.dataBytes)} in ${duration(last.durationMs)}`;
  const error =
    disk.lastError === null ? '' : `  ${disk.lastError.code}: ${disk.lastError.message}`;
  return `${disk.phase}  ${committed}${cycle}${error}`;
}

export function feedLines(status: FeedStatus, clock: CycleClock, nowMs: number): string[] {
  const lines = [`feed ${status.feed} (${status.sourceKind})`];
  for (const disk of status.disks) {
    const detail =
      disk.phase === 'syncing'
        ? syncingLine(
            disk,
            nowMs - clock.startOf(`${status.feed}/${disk.diskId}/${disk.currentEpoch}`, nowMs),
          )
        : idleLine(disk, nowMs);
    lines.push(`  ${disk.diskId}  ${detail}`);
  }
  return lines;
}

/** Keys of the cycles in progress, for `CycleClock.keepOnly`. */
export function syncingKeys(statuses: Iterable<FeedStatus>): Set<string> {
  const keys = new Set<string>();
  for (const status of statuses)
    for (const disk of status.disks)
      if (disk.phase === 'syncing') keys.add(`${status.feed}/${disk.diskId}/${disk.currentEpoch}`);
  return keys;
}

export function targetLines(status: ReplayStatus, nowMs: number): string[] {
  const lagRecords = status.partitions.reduce(
    (sum, partition) => sum + Math.max(0, partition.highWatermark - partition.nextOffset),
    0,
  );
  const lines = [
    `target ${status.target} (${status.targetKind})${status.paused ? '  paused' : ''}  lag ${lagRecords} records`,
  ];
  for (const disk of status.disks) {
    const point = disk.lastRestorePoint;
    const restorePoint =
      point === null
        ? 'no restore point yet'
        : `restore point e${point.epoch} ${ago(point.durableAtMs, nowMs)}`;
    const state =
      disk.state === 'in-epoch'
        ? `  applying e${disk.currentEpoch ?? '?'} (${mebibytes(disk.appliedBytes)} applied)`
        : disk.state === 'stopped'
          ? `  STOPPED ${disk.lastError?.code ?? ''}: ${disk.lastError?.message ?? ''}`
          : '';
    const lag =
      disk.newestAppliedSourceTimeMs === null
        ? ''
        : `  lag ${duration(Math.max(0, nowMs - disk.newestAppliedSourceTimeMs))}`;
    lines.push(`  ${disk.feed}/${disk.diskId}  ${restorePoint}${state}${lag}`);
  }
  return lines;
}
