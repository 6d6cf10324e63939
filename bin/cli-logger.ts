/**
 * Where a command's logs go. pino writes structured JSON lines: to `--log-file` when given,
 * else to stderr — unless stderr is a terminal, where the progress display owns the bottom
 * of the screen and log lines are printed above it in a short human form (with a log file,
 * only warnings and errors are also shown there).
 */
import { destination, multistream, pino, type Level, type Logger, type StreamEntry } from 'pino';
import { CommandError } from './commands/errors.js';
import { ProgressDisplay, type ProgressStream } from './progress.js';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace'] as const;

export interface CliLogging {
  readonly logger: Logger;
  /** The terminal's progress display, or null when stderr is not a terminal. */
  readonly display: ProgressDisplay | null;
  /** Stops the display (leaving its last state on screen) and flushes the log file. */
  close(): void;
}

export interface CliLoggingOptions {
  readonly level: string;
  readonly file?: string | undefined;
  readonly stderr?: ProgressStream & { readonly isTTY?: boolean };
}

export function checkLogLevel(level: string, option: string): Level {
  if (!(LOG_LEVELS as readonly string[]).includes(level))
    throw new CommandError(
      'EXTENTLOG_ERR_COMMAND_USAGE',
      `${option} expects one of ${LOG_LEVELS.join(', ')}, received '${level}'`,
    );
  return level as Level;
}

const LEVEL_NAMES: Record<number, string> = {
  10: 'TRACE',
  20: 'DEBUG',
  30: 'INFO',
  40: 'WARN',
  50: 'ERROR',
  60: 'FATAL',
};
const OMITTED = new Set(['level', 'time', 'msg', 'pid', 'hostname']);

function fieldText(value: unknown): string {
  if (typeof value === 'string') return /[\s"=]/.test(value) ? JSON.stringify(value) : value;
  if (value !== null && typeof value === 'object' && 'message' in value)
    return JSON.stringify((value as { message: unknown }).message);
  return JSON.stringify(value);
}

/** A pino JSON line as `12:03:04 WARN message key=value …`. */
export function formatLogLine(line: string): string {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line.trimEnd();
  }
  const time = new Date(typeof entry.time === 'number' ? entry.time : Date.now());
  const clock = time.toTimeString().slice(0, 8);
  const level = LEVEL_NAMES[entry.level as number] ?? String(entry.level);
  const fields = Object.entries(entry)
    .filter(([key]) => !OMITTED.has(key))
    .map(([key, value]) => `${key}=${fieldText(value)}`);
  return [clock, level.padEnd(5), String(entry.msg ?? ''), ...fields].join(' ').trimEnd();
}

export function createCliLogging(options: CliLoggingOptions): CliLogging {
  const level = checkLogLevel(options.level, '--log-level');
  const stderr = options.stderr ?? process.stderr;
  const display = stderr.isTTY === true ? new ProgressDisplay(stderr) : null;
  const streams: StreamEntry[] = [];
  const file =
    options.file === undefined
      ? null
      : destination({ dest: options.file, mkdir: true, sync: true, append: true });
  if (file !== null) streams.push({ level, stream: file });
  if (display !== null) {
    const shown: Level = file === null ? level : 'warn';
    streams.push({
      level: shown,
      stream: { write: (line: string) => display.log(formatLogLine(line)) },
    });
  } else if (file === null) {
    streams.push({ level, stream: destination({ fd: 2, sync: true }) });
  }
  const logger = pino({ level }, multistream(streams));
  return {
    logger,
    display,
    close() {
      display?.stop();
      file?.flushSync();
    },
  };
}
