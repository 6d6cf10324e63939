/**
 * `extentlog demo`: the first thing to run. Creates a sample disk, writes a configuration
 * for it (one image feed, two file targets, the embedded broker), and replicates: a FULL
 * cycle, then rounds of changes each followed by an INCREMENTAL cycle. After every cycle it
 * waits until both targets announced the restore point and compares the sha256 of each
 * target image with the source's. Exits 0 only if every comparison matched.
 */
import { existsSync } from 'node:fs';
import { mkdir, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import process from 'node:process';
import { stringify } from 'yaml';
import { openImageReader } from '../../consumers/file/image-reader.js';
import * as fileio from '../../native/fileio/index.js';
import { createCliLogging, type CliLogging } from '../cli-logger.js';
import {
  EXIT_FAILURE,
  EXIT_OK,
  integerOption,
  parseCommandLine,
  runCommand,
} from '../command-line.js';
import { startCommandRuntime } from '../command-runtime.js';
import { loadConfig } from '../config/load-config.js';
import { createSampleDisk, MIN_SAMPLE_DISK_BYTES, mutateSampleDisk } from '../demo-disk.js';
import { sha256OfDisk } from '../image-sha256.js';
import type { Runtime } from '../runtime.js';
import { listenForStopSignals } from '../stop-signals.js';
import { CYCLE_COLUMNS, cycleCells, formatTable, megabytes } from '../table.js';
import { waitForRestorePoints } from '../wait-for-targets.js';
import { CommandError } from './errors.js';

const USAGE = `usage: extentlog demo [--dir DIR] [--size-mib N] [--cycles N] [--keep]

Replicates a sample disk through the embedded broker into two file targets and proves it:
a FULL cycle, then N rounds of changes (random 4 KiB writes, data overwritten with zeros,
a punched hole, an unaligned write), each followed by an INCREMENTAL cycle. After every
cycle both targets' images must have the source's sha256.

options:
  --dir DIR           where the disk, the configuration and all data go (default ./data/demo;
                      emptied first unless --keep)
  --size-mib N        the sample disk's size in MiB (default 256, at least 4)
  --cycles N          rounds of changes after the FULL cycle (default 3)
  --keep              keep DIR as it is and go on from there
  --pure-node         use the pure-Node.js options even when the fileio addon is built
  --log-level LEVEL   default warn
  --log-file FILE     write the JSON logs to FILE instead of stderr
  -h, --help          this text

Afterwards DIR/extentlog.yaml works with 'extentlog run', 'verify' and 'restore'.`;

const COMMAND = {
  name: 'demo',
  usage: USAGE,
  options: {
    dir: { type: 'string' },
    'size-mib': { type: 'string' },
    cycles: { type: 'string' },
    keep: { type: 'boolean' },
    'pure-node': { type: 'boolean' },
    'log-level': { type: 'string' },
    'log-file': { type: 'string' },
  },
} as const;

const MiB = 1024 * 1024;
const FEED = 'demo';
const DISK = 'disk-0';
const TARGETS = ['mirror-a', 'mirror-b'] as const;
const WAIT_MS = 10 * 60 * 1000;

interface CycleRow {
  readonly cycle: number;
  readonly mode: string;
  readonly epoch: number | null;
  readonly extentRecords: number;
  readonly dataBytes: number;
  readonly zeroBytes: number;
  readonly durationMs: number;
  readonly sourceSha256: string;
  readonly targetsOk: readonly boolean[];
}

/** The demo's configuration: plain YAML with absolute paths, so it works from any directory. */
function demoConfig(dir: string, sourcePath: string, native: boolean) {
  return {
    dataDir: path.join(dir, 'data'),
    // The status page on a free port: the demo prints its address.
    status: { port: 0 },
    feeds: [
      {
        name: FEED,
        source: {
          type: 'image',
          disks: [{ id: DISK, path: sourcePath }],
          ...(native ? {} : { hashAlgorithm: 'sha256-128', detectHoles: false }),
        },
      },
    ],
    targets: TARGETS.map((name) => ({
      type: 'file',
      name,
      feeds: [FEED],
      path: path.join(dir, name, '{feed}-{disk}.img'),
      ...(native ? {} : { zeroing: 'write-zeros' }),
    })),
  };
}

async function sha256OfImage(imagePath: string): Promise<string> {
  const reader = await openImageReader({ path: imagePath, diskId: DISK });
  try {
    return await sha256OfDisk(reader);
  } finally {
    await reader.close();
  }
}

/** Creates the sample disk unless --keep found one; returns its size. */
async function prepareSource(sourcePath: string, sizeBytes: number, keep: boolean) {
  if (keep && existsSync(sourcePath)) {
    const existing = (await stat(sourcePath)).size;
    say(`keeping the sample disk ${sourcePath} (${existing / MiB} MiB)`);
    return existing;
  }
  say(`creating the sample disk ${sourcePath} (${sizeBytes / MiB} MiB, sparse)`);
  await createSampleDisk(sourcePath, sizeBytes);
  return sizeBytes;
}

/**
 * Where the demo's own lines go. While the progress display owns the bottom of a terminal
 * that stdout shares, they go above it: written past it, they would shift the block the
 * display redraws.
 */
let display: CliLogging['display'] = null;

function say(line: string): void {
  if (display !== null && process.stdout.isTTY) display.log(line);
  else process.stdout.write(`${line}\n`);
}

async function runCycle(
  runtime: Runtime,
  dir: string,
  sourcePath: string,
  cycle: number,
  logging: CliLogging,
  signal: AbortSignal,
): Promise<CycleRow> {
  const feed = runtime.feeds.get(FEED)!;
  const startedAtMs = Date.now();
  logging.display?.setExtra([`cycle ${cycle}: syncing, then waiting for ${TARGETS.join(' and ')}`]);
  const [result] = await feed.syncNow([DISK]);
  const epoch = result?.committed?.epoch ?? null;
  if (result === undefined || epoch === null)
    throw new CommandError(
      'EXTENTLOG_ERR_COMMAND_REPLICATION',
      `cycle ${cycle} ended without a commit`,
    );
  await waitForRestorePoints(
    runtime.replays,
    TARGETS.map((target) => ({ target, feed: FEED, disk: DISK, epoch })),
    { timeoutMs: WAIT_MS, signal },
  );
  const durationMs = Date.now() - startedAtMs;
  logging.display?.setExtra([`cycle ${cycle}: comparing sha256 of the source and both targets`]);
  const sourceSha256 = await sha256OfImage(sourcePath);
  const targetsOk: boolean[] = [];
  for (const target of TARGETS)
    targetsOk.push(
      (await sha256OfImage(path.join(dir, target, `${FEED}-${DISK}.img`))) === sourceSha256,
    );
  return {
    cycle,
    mode: result.mode,
    epoch,
    extentRecords: result.extentRecords,
    dataBytes: result.dataBytes,
    zeroBytes: result.zeroBytes,
    durationMs,
    sourceSha256,
    targetsOk,
  };
}

function summary(rows: readonly CycleRow[]): string {
  return formatTable(
    [
      { header: 'cycle', align: 'right' },
      { header: 'mode' },
      ...CYCLE_COLUMNS,
      { header: 'source sha256' },
      { header: 'target A' },
      { header: 'target B' },
    ],
    rows.map((row) => [
      String(row.cycle),
      row.mode,
      ...cycleCells(row, row.durationMs),
      row.sourceSha256.slice(0, 16),
      row.targetsOk[0] === true ? 'ok' : 'MISMATCH',
      row.targetsOk[1] === true ? 'ok' : 'MISMATCH',
    ]),
  );
}

export function main(argv: string[]): Promise<number> {
  return runCommand(COMMAND, async () => {
    const values = parseCommandLine(COMMAND, argv);
    if (values === null) return EXIT_OK;
    const dir = path.resolve(values.dir ?? path.join('data', 'demo'));
    const sizeMiB = integerOption(
      values['size-mib'],
      '--size-mib',
      256,
      MIN_SAMPLE_DISK_BYTES / MiB,
      65_536,
    );
    const cycles = integerOption(values.cycles, '--cycles', 3, 0, 1000);
    const keep = values.keep === true;
    const native = fileio.isAvailable() && values['pure-node'] !== true;
    if (!keep) await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { recursive: true });
    if (!native)
      say(
        `${values['pure-node'] === true ? '--pure-node' : "the fileio addon is not built (install libxxhash-dev and build-essential, then 'npm run build:native')"}: ` +
          'using the pure-Node.js options hashAlgorithm sha256-128, detectHoles false and zeroing write-zeros (slower, same result)',
      );
    const sourcePath = path.join(dir, 'source.img');
    const sizeBytes = await prepareSource(sourcePath, sizeMiB * MiB, keep);
    const configPath = path.join(dir, 'extentlog.yaml');
    await writeFile(
      configPath,
      `# Written by 'extentlog demo': the embedded broker, one image feed, two file targets.\n` +
        stringify(demoConfig(dir, sourcePath, native)),
    );
    const config = await loadConfig(configPath);
    const logging = createCliLogging({
      level: values['log-level'] ?? 'warn',
      file: values['log-file'],
    });
    const stop = listenForStopSignals(() => undefined);
    let runtime: Runtime | null = null;
    const rows: CycleRow[] = [];
    try {
      runtime = await startCommandRuntime('demo', config, logging.logger);
      stop.ready();
      logging.display?.watch(runtime);
      display = logging.display;
      say(`configuration: ${configPath}; broker: embedded (${runtime.embedded?.brokerAddress})`);
      if (runtime.status !== null) say(`status page: ${runtime.status.url}/`);
      for (let cycle = 0; cycle <= cycles; cycle++) {
        if (cycle > 0)
          for (const change of await mutateSampleDisk(sourcePath, sizeBytes, cycle))
            say(`  change: ${change}`);
        const row = await runCycle(runtime, dir, sourcePath, cycle, logging, stop.signal);
        rows.push(row);
        say(
          `cycle ${row.cycle} ${row.mode} epoch ${row.epoch}: ${row.extentRecords} records, ` +
            `${megabytes(row.dataBytes)} MB data, ${megabytes(row.zeroBytes)} MB zero, ` +
            `both targets ${row.targetsOk.every(Boolean) ? 'equal the source' : 'DIFFER from the source'} ` +
            `(${(row.durationMs / 1000).toFixed(2)} s)`,
        );
      }
    } finally {
      logging.display?.setExtra([]);
      display = null;
      await runtime?.close();
      stop.dispose();
      logging.close();
    }
    const ok = rows.every((row) => row.targetsOk.every(Boolean));
    say('');
    say(summary(rows));
    say('');
    say(
      ok
        ? `ok: after every cycle both targets held exactly the source's bytes.`
        : 'FAILED: a target differs from the source (see the table).',
    );
    // How this command was started, so that the hints can be pasted as they are.
    const self = `node ${path.relative(process.cwd(), process.argv[1] ?? 'dist/bin/extentlog.js')}`;
    say(`next: ${self} verify -c ${configPath}`);
    say(
      `      ${self} restore -c ${configPath} --target mirror-a --feed ${FEED} --disk ${DISK} --output ${path.join(dir, 'restored.img')}`,
    );
    return ok ? EXIT_OK : EXIT_FAILURE;
  });
}
