/**
 * `extentlog verify -c config.yaml`: for every target and disk (or the ones named), the
 * sha256 of the target's latest restore point against the sha256 of the source disk as it
 * is now. Both are whole-image digests, streamed. The comparison means something only while
 * the source has not changed since the restore point — the source's mtime is shown next to
 * the restore point's time as a hint.
 */
import { stat } from 'node:fs/promises';
import process from 'node:process';
import type { Logger } from 'pino';
import { describeError } from '../../errors/extentlog-error.js';
import { openImageReader } from '../../consumers/file/image-reader.js';
import type { RestorePointReader, Target } from '../../consumers/target.js';
import type { RestorePoint } from '../../schemas/restore-point.js';
import { createCliLogging } from '../cli-logger.js';
import {
  CONFIG_OPTIONS,
  DISK_OPTIONS,
  EXIT_FAILURE,
  EXIT_OK,
  knownName,
  parseCommandLine,
  required,
  runCommand,
} from '../command-line.js';
import { startCommandRuntime } from '../command-runtime.js';
import { loadConfig } from '../config/load-config.js';
import type { ExtentlogConfig, SourceConfig, TargetConfig } from '../config/schema.js';
import { sha256OfDisk } from '../image-sha256.js';
import { buildTarget, type Runtime } from '../runtime.js';
import { CommandError } from './errors.js';
import { formatTable } from '../table.js';

const USAGE = `usage: extentlog verify -c FILE [--target NAME] [--feed F] [--disk D]

For every target and disk of the configuration (or the ones named), compares the sha256
of the target's latest restore point with the sha256 of the source disk now. Only
meaningful while the source has not changed since the restore point: compare the
'source mtime' and 'restore point' columns.

options:
  -c, --config FILE   the configuration
  --target NAME       only this target
  --feed F            only disks of this feed
  --disk D            only this disk
  --log-level LEVEL   default warn
  --log-file FILE     write the JSON logs to FILE instead of stderr
  -h, --help          this text

Exit codes: 0 every compared disk matches; 1 a mismatch, an error, or a disk without a restore
point; 2 bad arguments or an invalid configuration.`;

const COMMAND = {
  name: 'verify',
  usage: USAGE,
  options: {
    ...CONFIG_OPTIONS,
    ...DISK_OPTIONS,
  },
} as const;

interface Check {
  readonly target: TargetConfig;
  readonly feed: string;
  readonly disk: string;
}

/** One side of a comparison: its digest, or why there is none. */
type Side =
  | { readonly sha256: string; readonly mtimeMs?: number }
  | { readonly skipped: string }
  | { readonly error: string };

interface Row {
  readonly check: Check;
  readonly point: RestorePoint | null;
  readonly source: Side | null;
  readonly target: Side | null;
}

const SHORT_HEX = 16;

/** The target × feed × disk combinations to check: configured disks and those with restore points. */
function checks(
  config: ExtentlogConfig,
  points: ReadonlyMap<string, RestorePoint>,
  only: { target?: string; feed?: string; disk?: string },
): Check[] {
  const found: Check[] = [];
  for (const target of config.targets) {
    if (only.target !== undefined && target.name !== only.target) continue;
    for (const feed of target.feeds) {
      if (only.feed !== undefined && feed !== only.feed) continue;
      const source = config.feeds.find((entry) => entry.name === feed)?.source;
      const disks = new Set(source === undefined ? [] : configuredDiskIds(source));
      for (const point of points.values())
        if (point.target === target.name && point.feed === feed) disks.add(point.disk);
      for (const disk of disks)
        if (only.disk === undefined || disk === only.disk) found.push({ target, feed, disk });
    }
  }
  return found;
}

/** The disks a source's configuration names (an instance's are known once it ran). */
function configuredDiskIds(source: SourceConfig): string[] {
  // An rbd source's disks are its images, or the volumes OpenStack lists at run time.
  if (source.type === 'rbd') return (source.images ?? []).map((image) => image.id);
  if (source.type === 'ebs')
    return (source.volumes ?? []).map((volume) => volume.diskId ?? volume.id);
  return source.disks.map((disk) => disk.id);
}

/** The local path of a disk's source, or why there is none. */
function sourcePath(config: ExtentlogConfig, feed: string, disk: string) {
  const source = config.feeds.find((entry) => entry.name === feed)?.source;
  if (source === undefined)
    return { path: null, note: `feed ${feed} runs elsewhere (not in this configuration)` };
  if (source.type !== 'image')
    return {
      path: null,
      note: `a ${source.type} source has no image this command can read; compare on the source side`,
    };
  const path = source.disks.find((entry) => entry.id === disk)?.path;
  return path === undefined
    ? { path: null, note: `disk ${disk} is no longer in feed ${feed}'s configuration` }
    : { path, note: null };
}

async function digest(open: () => Promise<RestorePointReader>): Promise<string> {
  const reader = await open();
  try {
    return await sha256OfDisk(reader);
  } finally {
    await reader.close();
  }
}

async function side(work: () => Promise<Side>): Promise<Side> {
  try {
    return await work();
  } catch (error) {
    return { error: describeError(error) };
  }
}

async function verifyOne(
  config: ExtentlogConfig,
  check: Check,
  point: RestorePoint | null,
  target: Target,
): Promise<Row> {
  if (point === null) return { check, point, source: null, target: null };
  const [targetSide, sourceSide] = await Promise.all([
    side(async () => {
      if (target.openRestorePoint === undefined)
        return { skipped: `a ${target.kind} target cannot be read back` };
      return { sha256: await digest(() => target.openRestorePoint!(point, point)) };
    }),
    side(async () => {
      const source = sourcePath(config, check.feed, check.disk);
      if (source.path === null) return { skipped: source.note };
      const { mtimeMs } = await stat(source.path);
      const sha256 = await digest(() => openImageReader({ path: source.path, diskId: check.disk }));
      return { sha256, mtimeMs };
    }),
  ]);
  return { check, point, source: sourceSide, target: targetSide };
}

type Verdict = 'match' | 'MISMATCH' | 'skipped' | 'ERROR' | 'NO RESTORE POINT';

const FAILED: ReadonlySet<Verdict> = new Set(['MISMATCH', 'ERROR', 'NO RESTORE POINT']);

function verdictOf(row: Row): Verdict {
  const { source, target } = row;
  if (row.point === null || source === null || target === null) return 'NO RESTORE POINT';
  if ('error' in source || 'error' in target) return 'ERROR';
  if ('skipped' in source || 'skipped' in target) return 'skipped';
  return source.sha256 === target.sha256 ? 'match' : 'MISMATCH';
}

const sha256Of = (side: Side | null) => (side !== null && 'sha256' in side ? side.sha256 : null);

/** Whether the source was modified after the restore point's epoch committed. */
function changedSince(row: Row): boolean {
  const mtimeMs = row.source !== null && 'sha256' in row.source ? row.source.mtimeMs : undefined;
  return row.point !== null && mtimeMs !== undefined && mtimeMs > row.point.committedAtMs;
}

function report(rows: readonly Row[]): string {
  const time = (ms: number | null | undefined) =>
    ms === null || ms === undefined ? '-' : new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z');
  const table = formatTable(
    [
      { header: 'target' },
      { header: 'feed' },
      { header: 'disk' },
      { header: 'epoch', align: 'right' },
      { header: 'restore point' },
      { header: 'source mtime' },
      { header: 'source sha256' },
      { header: 'target sha256' },
      { header: 'match' },
    ],
    rows.map((row) => [
      row.check.target.name,
      row.check.feed,
      row.check.disk,
      String(row.point?.epoch ?? '-'),
      time(row.point?.committedAtMs),
      row.source !== null && 'sha256' in row.source
        ? `${time(row.source.mtimeMs)}${changedSince(row) ? ' (later)' : ''}`
        : '-',
      sha256Of(row.source)?.slice(0, SHORT_HEX) ?? '-',
      sha256Of(row.target)?.slice(0, SHORT_HEX) ?? '-',
      verdictOf(row),
    ]),
  );
  const lines = [table, ''];
  for (const row of rows) {
    const name = `${row.check.target.name} ${row.check.feed}/${row.check.disk}`;
    if (verdictOf(row) === 'MISMATCH')
      lines.push(
        `MISMATCH ${name} at epoch ${row.point?.epoch}: source sha256 ${sha256Of(row.source)}, target sha256 ${sha256Of(row.target)}` +
          (changedSince(row)
            ? ' (the source changed after the restore point: a difference is expected until the next cycle)'
            : ''),
      );
    for (const [label, entry] of [
      ['source', row.source],
      ['target', row.target],
    ] as const) {
      if (entry !== null && 'skipped' in entry)
        lines.push(`skipped ${name}: ${label}: ${entry.skipped}`);
      if (entry !== null && 'error' in entry) lines.push(`ERROR ${name}: ${label}: ${entry.error}`);
    }
  }
  lines.push(
    'A match is meaningful only while the source has not changed since the restore point ' +
      "(a 'source mtime' marked 'later' means it has).",
  );
  return lines.join('\n');
}

export function main(argv: string[]): Promise<number> {
  return runCommand(COMMAND, async () => {
    const values = parseCommandLine(COMMAND, argv);
    if (values === null) return EXIT_OK;
    const config = await loadConfig(required(values.config, '--config'));
    const names = (list: readonly { name: string }[]) => list.map((entry) => entry.name);
    if (values.target !== undefined) knownName('--target', values.target, names(config.targets));
    if (values.feed !== undefined)
      knownName('--feed', values.feed, [...new Set(config.targets.flatMap((t) => t.feeds))]);
    const logging = createCliLogging({
      level: values['log-level'] ?? 'warn',
      file: values['log-file'],
    });
    let runtime: Runtime | null = null;
    const targets = new Map<string, Target>();
    try {
      runtime = await startCommandRuntime('verify', config, logging.logger, {
        feeds: false,
        targets: false,
      });
      const points = await runtime.restorePoints();
      const only = { target: values.target, feed: values.feed, disk: values.disk };
      const selected = checks(config, points, only);
      if (selected.length === 0) {
        if (values.target !== undefined || values.feed !== undefined || values.disk !== undefined)
          throw new CommandError(
            'EXTENTLOG_ERR_COMMAND_USAGE',
            'no target disk matches --target, --feed and --disk (a disk counts once it is configured or has a restore point)',
          );
        process.stdout.write('nothing to verify: the configuration has no target disks\n');
        return EXIT_OK;
      }
      const rows: Row[] = [];
      for (const check of selected) {
        const target = await targetFor(targets, check.target, logging.logger);
        logging.display?.setExtra([`hashing ${check.target.name} ${check.feed}/${check.disk} …`]);
        const key = `${check.target.name}/${check.feed}/${check.disk}`;
        rows.push(await verifyOne(config, check, points.get(key) ?? null, target));
      }
      logging.display?.setExtra([]);
      logging.display?.stop();
      process.stdout.write(`${report(rows)}\n`);
      return rows.some((row) => FAILED.has(verdictOf(row))) ? EXIT_FAILURE : EXIT_OK;
    } finally {
      for (const target of targets.values()) await target.close().catch(() => undefined);
      await runtime?.close();
      logging.close();
    }
  });
}

async function targetFor(
  cache: Map<string, Target>,
  config: TargetConfig,
  logger: Logger,
): Promise<Target> {
  let target = cache.get(config.name);
  if (target === undefined) {
    target = await buildTarget(config, logger);
    cache.set(config.name, target);
  }
  return target;
}
