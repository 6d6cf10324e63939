/**
 * Benchmark harness: every suite in `suites/` measures extentlog next to a peer tool in the
 * same run and reports rows; `run.ts` prints them as one table. Ratios, not absolute
 * numbers, are what compare across machines and runs.
 */
import { execFile } from 'node:child_process';
import { rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

export interface BenchRow {
  /** What is measured, e.g. 'broker produce 512 KiB acks=all'. */
  readonly name: string;
  readonly value: number;
  /** 'MB/s', 's', 'MB', 'records/s', … */
  readonly unit: string;
  /** The peer measured in the same run, when the row compares against one. */
  readonly peer?: { readonly name: string; readonly value: number; readonly unit: string };
  /** ours ÷ peer (or peer ÷ ours for times), oriented so that higher is better. */
  readonly ratio?: number;
  /** The goal for `ratio` (or for `value` when there is no peer), e.g. '≥ 0.5'. */
  readonly target?: string;
  /** Whether the row meets its target; undefined when it has none. */
  readonly met?: boolean;
}

export interface BenchContext {
  /** A scratch directory on the disk under test, removed after the suite. */
  readonly workDir: string;
  /** Scale factor from BENCH_SCALE (default 1): suites multiply their data sizes by it. */
  readonly scale: number;
  log(message: string): void;
}

export interface BenchSuite {
  readonly name: string;
  run(context: BenchContext): Promise<BenchRow[]>;
}

export const MiB = 1024 * 1024;

/** Wall-clock seconds `operation` takes. */
export async function seconds(operation: () => Promise<unknown>): Promise<number> {
  const startedAt = process.hrtime.bigint();
  await operation();
  return Number(process.hrtime.bigint() - startedAt) / 1e9;
}

/** The middle value (the upper one of an even count): robust to one noisy run. */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}
const MB = 1e6;

/** The disk's own sequential write speed: `dd bs=1M conv=fdatasync` of `totalBytes` in workDir. */
export async function ddWriteMBps(context: BenchContext, totalBytes: number): Promise<number> {
  const target = path.join(context.workDir, 'dd.bin');
  const started = process.hrtime.bigint();
  await promisify(execFile)('dd', [
    'if=/dev/zero',
    `of=${target}`,
    'bs=1M',
    `count=${Math.round(totalBytes / MiB)}`,
    'conv=fdatasync',
  ]);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  await rm(target, { force: true });
  return totalBytes / MB / seconds;
}

/** Throughput ratio row helper: higher is better for both. */
export function throughputRow(
  name: string,
  oursMBps: number,
  peer: { name: string; MBps: number },
  target?: { atLeast: number },
): BenchRow {
  const ratio = oursMBps / peer.MBps;
  return {
    name,
    value: oursMBps,
    unit: 'MB/s',
    peer: { name: peer.name, value: peer.MBps, unit: 'MB/s' },
    ratio,
    ...(target ? { target: `≥ ${target.atLeast}`, met: ratio >= target.atLeast } : {}),
  };
}

/** Time ratio row helper: peer time ÷ our time, so that higher is better. */
export function timeRow(
  name: string,
  oursSeconds: number,
  peer: { name: string; seconds: number },
  target?: { atLeast: number },
): BenchRow {
  const ratio = peer.seconds / oursSeconds;
  return {
    name,
    value: oursSeconds,
    unit: 's',
    peer: { name: peer.name, value: peer.seconds, unit: 's' },
    ratio,
    ...(target ? { target: `≥ ${target.atLeast}`, met: ratio >= target.atLeast } : {}),
  };
}

function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  const magnitude = Math.abs(value);
  return magnitude >= 100
    ? value.toFixed(0)
    : magnitude >= 1
      ? value.toFixed(2)
      : value.toPrecision(3);
}

export function formatTable(suite: string, rows: readonly BenchRow[]): string {
  const header = [
    'suite',
    'measurement',
    'extentlog',
    'peer',
    'peer value',
    'ratio',
    'target',
    'met',
  ];
  const body = rows.map((row) => [
    suite,
    row.name,
    `${formatNumber(row.value)} ${row.unit}`,
    row.peer?.name ?? '',
    row.peer ? `${formatNumber(row.peer.value)} ${row.peer.unit}` : '',
    row.ratio === undefined ? '' : formatNumber(row.ratio),
    row.target ?? '',
    row.met === undefined ? '' : row.met ? 'yes' : 'NO',
  ]);
  const widths = header.map((cell, column) =>
    Math.max(cell.length, ...body.map((line) => (line[column] ?? '').length)),
  );
  const render = (cells: readonly string[]) =>
    `| ${cells.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join(' | ')} |`;
  return [
    render(header),
    render(widths.map((width) => '-'.repeat(width))),
    ...body.map(render),
  ].join('\n');
}

export function machineSummary(): string {
  const cpus = os.cpus();
  return `${cpus.length} × ${cpus[0]?.model ?? 'unknown CPU'}, ${Math.round(os.totalmem() / 1024 ** 3)} GiB RAM, Node ${process.version}`;
}
