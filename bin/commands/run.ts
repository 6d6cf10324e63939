/**
 * `extentlog run -c config.yaml`: the replication process. Starts everything the
 * configuration describes — the embedded broker and registry when no `kafka` is set, every
 * feed, every target's replay — and runs until SIGTERM or SIGINT, then stops cleanly: feeds
 * finish their cycle, replays checkpoint, the broker closes. `--once` runs one cycle of
 * every feed, waits for the targets' restore points, prints a summary and exits.
 */
import process from 'node:process';
import { describeError } from '../../errors/extentlog-error.js';
import { createCliLogging, type CliLogging } from '../cli-logger.js';
import {
  CONFIG_OPTIONS,
  EXIT_FAILURE,
  EXIT_OK,
  integerOption,
  parseCommandLine,
  required,
  runCommand,
} from '../command-line.js';
import { startCommandRuntime } from '../command-runtime.js';
import { loadConfig } from '../config/load-config.js';
import { runOnce, type OnceReport } from '../run-once.js';
import type { Runtime } from '../runtime.js';
import { listenForStopSignals } from '../stop-signals.js';
import { CYCLE_COLUMNS, cycleCells, formatTable } from '../table.js';

const USAGE = `usage: extentlog run -c FILE [options]

Runs the feeds and targets of a configuration until SIGTERM or SIGINT (a second signal
exits at once). Without a 'kafka' section it starts the embedded broker and schema registry.

options:
  -c, --config FILE     the configuration (YAML or JSON; see docs/configuration.md)
  --once                run one cycle of every feed, wait until every target holds the
                        resulting restore points, print a summary and exit
  --timeout SECONDS     with --once: how long to wait for the targets (default 3600)
  --log-level LEVEL     fatal, error, warn, info, debug, trace (default: the config's logLevel)
  --log-file FILE       write the JSON logs to FILE instead of stderr
  -h, --help            this text

On a terminal, stderr shows a progress line per disk of every feed and target; otherwise
stderr carries only the JSON logs. Exit codes: 0 ok, 1 failure, 2 bad arguments or an
invalid configuration.`;

const COMMAND = {
  name: 'run',
  usage: USAGE,
  options: {
    ...CONFIG_OPTIONS,
    once: { type: 'boolean' },
    timeout: { type: 'string' },
  },
} as const;

export function main(argv: string[]): Promise<number> {
  return runCommand(COMMAND, async () => {
    const values = parseCommandLine(COMMAND, argv);
    if (values === null) return EXIT_OK;
    const configFile = required(values.config, '--config');
    const timeoutMs = integerOption(values.timeout, '--timeout', 3600, 1) * 1000;
    const config = await loadConfig(configFile);
    const logging = createCliLogging({
      level: values['log-level'] ?? config.logLevel,
      file: values['log-file'],
    });
    const stop = listenForStopSignals((signal) =>
      logging.logger.warn({ signal }, 'exiting at once, without a clean stop'),
    );
    let runtime: Runtime | null = null;
    try {
      runtime = await startCommandRuntime('run', config, logging.logger);
      stop.ready();
      logging.display?.watch(runtime);
      if (values.once === true) {
        const report = await runOnce(runtime, { timeoutMs, signal: stop.signal });
        logging.display?.stop();
        printReport(report);
        return report.ok ? EXIT_OK : EXIT_FAILURE;
      }
      logging.logger.info(
        { feeds: runtime.feeds.size, targets: runtime.replays.size },
        'running until SIGTERM or SIGINT',
      );
      const signal = await stop.received;
      logging.logger.info({ signal }, 'stopping: feeds finish their cycle, replays checkpoint');
      return EXIT_OK;
    } finally {
      await runtime?.close();
      stop.dispose();
      closeLogging(logging, runtime !== null);
    }
  });
}

function closeLogging(logging: CliLogging, started: boolean): void {
  if (started) logging.logger.info('stopped');
  logging.close();
}

function printReport(report: OnceReport): void {
  const cycles = formatTable(
    [
      { header: 'feed' },
      { header: 'disk' },
      { header: 'epoch', align: 'right' },
      { header: 'mode' },
      ...CYCLE_COLUMNS,
      { header: 'result' },
    ],
    report.cycles.map(({ feed, disk, result, durationMs, error }) => [
      feed,
      disk,
      String(result?.committed?.epoch ?? '-'),
      result?.mode ?? '-',
      ...cycleCells(result, durationMs),
      error === null ? 'committed' : `FAILED: ${error}`,
    ]),
  );
  const targets = formatTable(
    [
      { header: 'target' },
      { header: 'feed' },
      { header: 'disk' },
      { header: 'restore point', align: 'right' },
      { header: 'durable at' },
    ],
    report.restorePoints.map(({ target, feed, disk, epoch, point }) => [
      target,
      feed,
      disk,
      point === null ? `missing (wanted ${epoch})` : `epoch ${point.epoch}`,
      point === null ? '-' : new Date(point.durableAtMs).toISOString(),
    ]),
  );
  const parts = [report.cycles.length === 0 ? 'no feeds in this configuration' : cycles];
  if (report.restorePoints.length > 0) parts.push(targets);
  if (report.waitError !== null) parts.push(`FAILED: ${describeError(report.waitError)}`);
  parts.push(report.ok ? 'ok' : 'FAILED');
  process.stdout.write(`${parts.join('\n\n')}\n`);
}
