/**
 * The status overview as a terminal report: a verdict line, a table of feed disks, a table
 * of target disks (lag, restore point, errors) and the problems, in plain text (spaces and
 * dashes) so that it reads the same in a terminal, a log and a ticket.
 */
import type { Overview } from '../status/api-views.js';

function table(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((header, column) =>
    Math.max(header.length, ...rows.map((row) => (row[column] ?? '').length)),
  );
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, column) => cell.padEnd(widths[column] ?? 0))
      .join('  ')
      .trimEnd();
  return [line(headers), line(widths.map((width) => '-'.repeat(width))), ...rows.map(line)].join(
    '\n',
  );
}

export function formatBytes(bytes: number | null): string {
  if (bytes === null) return '-';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (Math.abs(value) >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${unit === 0 || value >= 100 ? value.toFixed(0) : value.toFixed(1)} ${units[unit]}`;
}

export function formatSeconds(seconds: number | null): string {
  if (seconds === null) return '-';
  if (seconds < 60) return `${seconds.toFixed(seconds < 10 ? 1 : 0)} s`;
  if (seconds < 3600) return `${(seconds / 60).toFixed(1)} min`;
  if (seconds < 86_400) return `${(seconds / 3600).toFixed(1)} h`;
  return `${(seconds / 86_400).toFixed(1)} d`;
}

function ago(atMs: number | null, nowMs: number): string {
  return atMs === null ? '-' : `${formatSeconds(Math.max(0, nowMs - atMs) / 1000)} ago`;
}

export function formatStatusReport(overview: Overview, url: string): string {
  const now = overview.generatedAtMs;
  const targetDisks = overview.targets.reduce((count, target) => count + target.disks.length, 0);
  const verdict = overview.protected
    ? `all ${targetDisks} target disk${targetDisks === 1 ? '' : 's'} protected`
    : `${overview.problems.length} problem${overview.problems.length === 1 ? '' : 's'}`;
  const parts = [`extentlog status at ${url}: ${verdict}`];

  if (overview.feeds.length > 0) {
    const rows = overview.feeds.flatMap((feed) =>
      feed.disks.map((disk) => {
        const cycle = disk.lastCycle;
        return [
          feed.feed,
          disk.diskId,
          feed.paused && disk.phase !== 'syncing' ? 'paused' : disk.phase,
          disk.currentEpoch === null
            ? String(disk.lastCommittedEpoch ?? '-')
            : `${disk.currentEpoch} (open)`,
          cycle === null
            ? '-'
            : `${cycle.mode} ${cycle.extentRecords} ext ${formatBytes(cycle.dataBytes + cycle.zeroBytes)} in ${formatSeconds(cycle.durationMs / 1000)}, ${ago(cycle.startedAtMs, now)}`,
          disk.changeRateBytesPerSecond === null
            ? '-'
            : `${formatBytes(disk.changeRateBytesPerSecond)}/s`,
          disk.lastError === null ? '-' : disk.lastError.code,
        ];
      }),
    );
    parts.push(
      table(['FEED', 'DISK', 'PHASE', 'EPOCH', 'LAST CYCLE', 'CHANGE RATE', 'ERROR'], rows),
    );
  }

  if (overview.targets.length > 0) {
    const rows = overview.targets.flatMap((target) => {
      if (target.disks.length === 0)
        return [
          [
            target.target,
            '-',
            target.paused ? 'paused' : target.lastError !== null ? 'retrying' : 'no records yet',
            formatSeconds(target.lag.seconds),
            `${target.lag.records ?? '-'} rec / ${formatBytes(target.lag.bytes)}`,
            '-',
            '-',
            target.lastError === null ? '-' : target.lastError.code,
          ],
        ];
      return target.disks.map((disk) => {
        const partition = target.partitions.find(
          (entry) => entry.topic === disk.topic && entry.partition === disk.partition,
        );
        const point = disk.lastRestorePoint;
        return [
          target.target,
          `${disk.feed}/${disk.diskId}`,
          target.paused ? 'paused' : disk.state,
          formatSeconds(disk.lagSeconds),
          partition === undefined
            ? '-'
            : `${partition.lagRecords} rec / ${partition.lagBytesMethod === 'sampled' ? '~' : ''}${formatBytes(partition.lagBytes)}`,
          point === null ? 'none' : `epoch ${point.epoch}, ${ago(point.committedAtMs, now)}`,
          disk.applyBytesPerSecond === null ? '-' : `${formatBytes(disk.applyBytesPerSecond)}/s`,
          disk.lastError === null ? '-' : disk.lastError.code,
        ];
      });
    });
    parts.push(
      table(['TARGET', 'DISK', 'STATE', 'LAG', 'BEHIND', 'RESTORE POINT', 'APPLY', 'ERROR'], rows),
    );
  }
  if (overview.feeds.length === 0 && overview.targets.length === 0)
    parts.push('this process runs no feeds and no targets');
  if (overview.problems.length > 0)
    parts.push(['problems:', ...overview.problems.map((problem) => `  - ${problem}`)].join('\n'));
  return `${parts.join('\n\n')}\n`;
}
