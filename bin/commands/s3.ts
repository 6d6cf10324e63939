/**
 * `extentlog s3 <list|restore|verify|retain|gc>`: the restore points an S3 target holds,
 * read from the bucket alone — no Kafka needed, so a disk can be restored when nothing but
 * the bucket survived. The target's settings (bucket, credentials, key) come from the
 * configuration file.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import process from 'node:process';
import { parseArgs } from 'node:util';
import { destination, pino, type Logger } from 'pino';
import { ExtentlogError } from '../../errors/extentlog-error.js';
import { collectGarbage } from '../../consumers/s3/garbage-collector.js';
import { listManifests, readManifest } from '../../consumers/s3/manifest-index.js';
import { restoreImage } from '../../consumers/s3/restore-image.js';
import { applyRetention } from '../../consumers/s3/retention.js';
import { loadConfig } from '../config/load-config.js';
import type { S3TargetConfig } from '../config/schema.js';
import { buildS3Target, type S3TargetParts } from '../s3-target.js';

const USAGE = `usage: extentlog s3 <command> -c CONFIG --target NAME [options]

commands:
  list      the restore points (manifests) in the bucket       [--feed F] [--disk D]
  restore   write a restore point to an image file or device   --feed F --disk D --output PATH
                                                               [--epoch N | --manifest KEY] [--concurrency N]
  verify    read every chunk of a restore point and check it   --feed F --disk D [--epoch N | --manifest KEY]
            (with --against IMAGE: compare sha256 with it)     [--against IMAGE]
  retain    delete restore points the policy does not keep     [--keep-last N] [--keep-days D] [--dry-run]
            (default: the target's retention settings; the newest point of a disk is always kept)
  gc        delete chunks no restore point refers to           [--dry-run] [--grace-ms N]

options:
  -c, --config FILE   the configuration holding the target
  --target NAME       an s3 target of that configuration
  --log-level LEVEL   (default warn; logs go to stderr)`;

const options = {
  config: { type: 'string', short: 'c' },
  target: { type: 'string' },
  feed: { type: 'string' },
  disk: { type: 'string' },
  epoch: { type: 'string' },
  manifest: { type: 'string' },
  output: { type: 'string' },
  against: { type: 'string' },
  concurrency: { type: 'string', default: '16' },
  'keep-last': { type: 'string' },
  'keep-days': { type: 'string' },
  'grace-ms': { type: 'string' },
  'dry-run': { type: 'boolean', default: false },
  'log-level': { type: 'string', default: 'warn' },
  help: { type: 'boolean', short: 'h' },
} as const;

type Values = ReturnType<typeof parseArgs<{ options: typeof options; strict: true }>>['values'];

class UsageError extends Error {}

function integer(values: Values, name: keyof Values): number | undefined {
  const text = values[name];
  if (text === undefined) return undefined;
  const value = Number(text);
  if (typeof text !== 'string' || !Number.isSafeInteger(value) || value < 0)
    throw new UsageError(`--${name} expects a non-negative integer, received ${String(text)}`);
  return value;
}

function required(values: Values, name: 'feed' | 'disk' | 'output'): string {
  const value = values[name];
  if (value === undefined) throw new UsageError(`--${name} is required`);
  return value;
}

async function targetConfig(values: Values): Promise<S3TargetConfig> {
  if (values.config === undefined) throw new UsageError('-c CONFIG is required');
  const config = await loadConfig(values.config);
  const s3Targets = config.targets.filter((target) => target.type === 's3');
  const chosen =
    values.target === undefined && s3Targets.length === 1
      ? s3Targets[0]
      : s3Targets.find((target) => target.name === values.target);
  if (chosen === undefined)
    throw new UsageError(
      `${values.target === undefined ? '--target NAME is required' : `no s3 target named '${values.target}'`}; the s3 targets of ${values.config} are ${s3Targets.map((target) => `'${target.name}'`).join(', ') || 'none'}`,
    );
  return chosen;
}

/** The manifest key a command names: --manifest, or --feed/--disk with --epoch or the newest. */
async function manifestKey(parts: S3TargetParts, values: Values): Promise<string> {
  if (values.manifest !== undefined) return values.manifest;
  const feed = required(values, 'feed');
  const disk = required(values, 'disk');
  const epoch = integer(values, 'epoch');
  if (epoch !== undefined) return parts.layout.manifestKey(feed, disk, epoch);
  const entries = await listManifests(parts.store, parts.layout, feed, disk);
  const newest = entries[entries.length - 1];
  if (newest === undefined)
    throw new UsageError(
      `no restore point of disk ${disk} of feed ${feed} in ${parts.store.url}${parts.layout.manifestsPrefix(feed, disk)}`,
    );
  return newest.key;
}

async function sha256OfFile(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 4 * 1024 * 1024 }))
    hash.update(chunk as Buffer);
  return hash.digest('hex');
}

const print = (line: string) => process.stdout.write(`${line}\n`);

async function run(command: string, values: Values, logger: Logger): Promise<number> {
  const config = await targetConfig(values);
  const parts = await buildS3Target(config, logger);
  try {
    switch (command) {
      case 'list': {
        const entries = await listManifests(parts.store, parts.layout, values.feed, values.disk);
        print(['feed', 'disk', 'epoch', 'written', 'manifest'].join('\t'));
        for (const entry of entries)
          print(
            [
              entry.feed,
              entry.diskId,
              entry.epoch,
              new Date(entry.lastModifiedMs).toISOString(),
              `${parts.store.url}${entry.key}`,
            ].join('\t'),
          );
        return 0;
      }
      case 'restore':
      case 'verify': {
        const key = await manifestKey(parts, values);
        const manifest = await readManifest(parts.store, key);
        const outputPath = command === 'restore' ? required(values, 'output') : null;
        const startedAt = process.hrtime.bigint();
        const result = await restoreImage({
          chunks: parts.chunks,
          manifest,
          where: `${parts.store.url}${key}`,
          outputPath,
          concurrency: integer(values, 'concurrency') ?? 16,
        });
        const seconds = Number(process.hrtime.bigint() - startedAt) / 1e9;
        print(`manifest  ${parts.store.url}${key}`);
        print(`disk      ${manifest.disk} of feed ${manifest.feed}, epoch ${manifest.epoch}`);
        print(`size      ${manifest.diskSizeBytes} bytes, ${result.chunksRead} chunks read`);
        print(`sha256    ${result.sha256}`);
        print(`speed     ${(result.sizeBytes / 1e6 / seconds).toFixed(1)} MB/s of disk`);
        if (outputPath !== null) print(`written   ${outputPath}`);
        if (values.against !== undefined) {
          const expected = await sha256OfFile(values.against);
          const match = expected === result.sha256;
          print(`against   ${values.against}: ${expected} ${match ? 'MATCH' : 'MISMATCH'}`);
          return match ? 0 : 1;
        }
        return 0;
      }
      case 'retain': {
        const keepDays = integer(values, 'keep-days');
        const policy = {
          keepLast: integer(values, 'keep-last') ?? config.retention?.keepLast,
          keepForMs: keepDays === undefined ? config.retention?.keepForMs : keepDays * 86_400_000,
        };
        const result = await applyRetention({
          store: parts.store,
          layout: parts.layout,
          policy: {
            ...(policy.keepLast === undefined ? {} : { keepLast: policy.keepLast }),
            ...(policy.keepForMs === undefined ? {} : { keepForMs: policy.keepForMs }),
          },
          ...(values.feed === undefined ? {} : { feed: values.feed }),
          ...(values.disk === undefined ? {} : { diskId: values.disk }),
          dryRun: values['dry-run'],
        });
        for (const entry of result.deleted)
          print(
            `${values['dry-run'] ? 'would delete' : 'deleted'}  ${parts.store.url}${entry.key}`,
          );
        print(
          `kept ${result.kept.length}, ${values['dry-run'] ? 'would delete' : 'deleted'} ${result.deleted.length}`,
        );
        return 0;
      }
      case 'gc': {
        const report = await collectGarbage({
          store: parts.store,
          layout: parts.layout,
          graceMs: integer(values, 'grace-ms') ?? config.gc.graceMs,
          leaseMs: config.gc.leaseMs,
          dryRun: values['dry-run'],
          logger,
        });
        for (const [name, value] of Object.entries(report)) print(`${name.padEnd(18)} ${value}`);
        return 0;
      }
      default:
        throw new UsageError(`unknown command '${command}'`);
    }
  } finally {
    parts.client.destroy();
  }
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  let values: Values;
  try {
    ({ values } = parseArgs({ args: rest, options, strict: true }));
  } catch (error) {
    process.stderr.write(`extentlog s3: ${(error as Error).message}\n\n${USAGE}\n`);
    return 2;
  }
  if (command === undefined || command === '--help' || command === '-h' || values.help) {
    process.stdout.write(`${USAGE}\n`);
    return command === undefined ? 2 : 0;
  }
  const logger = pino({ level: values['log-level'] }, destination(2));
  try {
    return await run(command, values, logger);
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`extentlog s3 ${command}: ${error.message}\n\n${USAGE}\n`);
      return 2;
    }
    if (error instanceof ExtentlogError) {
      process.stderr.write(`extentlog s3 ${command}: ${error.code}: ${error.message}\n`);
      return 1;
    }
    throw error;
  }
}
