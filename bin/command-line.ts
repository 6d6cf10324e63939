/**
 * What every subcommand shares at its edge: parsing its arguments (node:util parseArgs,
 * strict), `--help`, and turning a failure into a message and an exit code.
 *
 * Exit codes: 0 success; 1 a failure (something did not replicate, verify or restore);
 * 2 a usage error — bad arguments or an invalid configuration file — where nothing ran.
 */
import process from 'node:process';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { ExtentlogError } from '../errors/extentlog-error.js';
import { suggest } from './config/load-config.js';
import { ConfigError } from './errors.js';
import { CommandError } from './commands/errors.js';

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

type StrictOptions = NonNullable<ParseArgsConfig['options']>;

/** The parsed values of options declared without `multiple`. */
export type OptionValues<O extends StrictOptions> = {
  [K in keyof O]?: O[K] extends { type: 'boolean' } ? boolean : string;
};

/** The options of every command that works from a configuration file. */
export const CONFIG_OPTIONS = {
  config: { type: 'string', short: 'c' },
  'log-level': { type: 'string' },
  'log-file': { type: 'string' },
} as const;

/** `--target`, `--feed`, `--disk`: which target disks a command works on. */
export const DISK_OPTIONS = {
  target: { type: 'string' },
  feed: { type: 'string' },
  disk: { type: 'string' },
} as const;

export interface CommandLine<O extends StrictOptions> {
  /** 'run', 'verify', … */
  readonly name: string;
  readonly usage: string;
  readonly options: O;
}

/** Parses `argv`; returns null after printing the usage (`--help`). Throws a usage error. */
export function parseCommandLine<O extends StrictOptions>(
  command: CommandLine<O>,
  argv: string[],
): OptionValues<O> | null {
  let values: Record<string, unknown>;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: { ...command.options, help: { type: 'boolean', short: 'h' } },
    }));
  } catch (error) {
    throw new CommandError('EXTENTLOG_ERR_COMMAND_USAGE', (error as Error).message);
  }
  if (values.help === true) {
    process.stdout.write(`${command.usage}\n`);
    return null;
  }
  return values as OptionValues<O>;
}

/** A required option, or a usage error naming it. */
export function required<T>(value: T | undefined, option: string): T {
  if (value === undefined)
    throw new CommandError('EXTENTLOG_ERR_COMMAND_USAGE', `${option} is required`);
  return value;
}

/** A whole number option within [minimum, maximum], or a usage error naming it. */
export function integerOption(
  value: string | undefined,
  option: string,
  fallback: number,
  minimum = 0,
  maximum = Number.MAX_SAFE_INTEGER,
): number {
  if (value === undefined) return fallback;
  const parsed = Number(value);
  if (!/^\d+$/.test(value) || parsed < minimum || parsed > maximum)
    throw new CommandError(
      'EXTENTLOG_ERR_COMMAND_USAGE',
      `${option} expects a whole number from ${minimum} to ${maximum}, received '${value}'`,
    );
  return parsed;
}

/** `value` when it is one of `known`, else a usage error listing them (with the closest one). */
export function knownName(option: string, value: string, known: readonly string[]): string {
  if (known.includes(value)) return value;
  const hint = suggest(value, known);
  throw new CommandError(
    'EXTENTLOG_ERR_COMMAND_USAGE',
    `${option} '${value}' is not in the configuration${hint === null ? '' : ` — did you mean '${hint}'?`}; ` +
      `known: ${known.length === 0 ? 'none' : known.join(', ')}`,
  );
}

const USAGE_CODES = new Set<string>([
  'EXTENTLOG_ERR_COMMAND_USAGE',
  'EXTENTLOG_ERR_COMMAND_OUTPUT_EXISTS',
]);

export function exitCodeOf(error: unknown): number {
  if (error instanceof ConfigError) return EXIT_USAGE;
  if (error instanceof ExtentlogError && USAGE_CODES.has(error.code)) return EXIT_USAGE;
  return EXIT_FAILURE;
}

/** Runs a command's body; a failure is printed to stderr (with its code) and mapped to an exit code. */
export async function runCommand(
  command: { readonly name: string },
  body: () => Promise<number>,
): Promise<number> {
  try {
    return await body();
  } catch (error) {
    const exitCode = exitCodeOf(error);
    const prefix = `extentlog ${command.name}`;
    if (error instanceof ExtentlogError) {
      const hint =
        error.code === 'EXTENTLOG_ERR_COMMAND_USAGE'
          ? `\nRun 'extentlog ${command.name} --help' for its options.`
          : '';
      process.stderr.write(`${prefix}: ${error.message} [${error.code}]${hint}\n`);
    } else {
      process.stderr.write(
        `${prefix}: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
      );
    }
    return exitCode;
  }
}
