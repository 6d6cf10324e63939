/**
 * `extentlog restore`: the disk as of a restore point, written to an image file (sparse)
 * or a block device. The restore point is read back through the target port
 * (`openRestorePoint`), so any target that can hand one back can be restored from. When
 * done, the output's sha256 is compared with the target's.
 */
import { stat } from 'node:fs/promises';
import process from 'node:process';
import { readRestorePointHistory } from '../../consumers/restore-points.js';
import { openImageReader } from '../../consumers/file/image-reader.js';
import { pathTemplate } from '../../consumers/file/path-template.js';
import type { RestorePointReader, Target } from '../../consumers/target.js';
import type { RestorePoint } from '../../schemas/restore-point.js';
import { createCliLogging, type CliLogging } from '../cli-logger.js';
import {
  CONFIG_OPTIONS,
  DISK_OPTIONS,
  EXIT_OK,
  integerOption,
  knownName,
  parseCommandLine,
  required,
  runCommand,
} from '../command-line.js';
import { startCommandRuntime } from '../command-runtime.js';
import { loadConfig } from '../config/load-config.js';
import { sha256OfDisk } from '../image-sha256.js';
import { writeRestore } from '../restore-writer.js';
import { buildTarget, type Runtime } from '../runtime.js';
import { megabytes } from '../table.js';
import { CommandError } from './errors.js';

const USAGE = `usage: extentlog restore -c FILE --target NAME --feed F --disk D --output PATH [options]

Writes disk D of feed F as of a restore point of target NAME to PATH: an image file
(sparse: holes stay holes) or a block device. Then checks that the output's sha256 equals
the target's.

options:
  -c, --config FILE   the configuration
  --target NAME       the target to restore from
  --feed F            the feed the disk belongs to
  --disk D            the disk
  --output PATH       an image file to create, or a block device at least the disk's size
  --epoch N           the restore point's epoch (default: the latest; a file target holds
                      only the latest)
  --force             overwrite an existing file, or write to a block device
  --log-level LEVEL   default warn
  --log-file FILE     write the JSON logs to FILE instead of stderr
  -h, --help          this text

A file target is read while no replay writes to it: stop 'extentlog run' of that target
first (with the embedded broker it has to stop anyway). Exit codes: 0 restored and
checked; 1 failure; 2 bad arguments, an invalid configuration, or an output that exists
without --force.`;

const COMMAND = {
  name: 'restore',
  usage: USAGE,
  options: {
    ...CONFIG_OPTIONS,
    ...DISK_OPTIONS,
    output: { type: 'string' },
    epoch: { type: 'string' },
    force: { type: 'boolean' },
  },
} as const;

/** The same file or device, by device and inode number (links and relative paths included). */
async function sameFile(a: string, b: string): Promise<boolean> {
  const [first, second] = await Promise.all([stat(a), stat(b)]).catch(() => [null, null]);
  return first !== null && second !== null && first.dev === second.dev && first.ino === second.ino;
}

/**
 * Whether the output is a block device. Refuses to replace anything without --force, and
 * the target's own image even with it (writing starts by emptying the output).
 */
async function checkOutput(outputPath: string, force: boolean, targetPath: string | null) {
  let stats;
  try {
    stats = await stat(outputPath);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
  if (targetPath !== null && (await sameFile(outputPath, targetPath)))
    throw new CommandError(
      'EXTENTLOG_ERR_COMMAND_USAGE',
      `--output ${outputPath} is the target's own image: restore to another path`,
    );
  if (stats.isDirectory())
    throw new CommandError(
      'EXTENTLOG_ERR_COMMAND_USAGE',
      `--output ${outputPath} is a directory; give the path of an image file to create`,
    );
  if (!stats.isFile() && !stats.isBlockDevice())
    throw new CommandError(
      'EXTENTLOG_ERR_COMMAND_USAGE',
      `--output ${outputPath} is neither a regular file nor a block device`,
    );
  if (!force)
    throw new CommandError(
      'EXTENTLOG_ERR_COMMAND_OUTPUT_EXISTS',
      `--output ${outputPath} exists${stats.isBlockDevice() ? ' and is a block device' : ''}: ` +
        'add --force to overwrite it',
    );
  return stats.isBlockDevice();
}

/** The restore point asked for, and the latest one of the same target and disk. */
async function findRestorePoint(
  runtime: Runtime,
  key: { target: string; feed: string; disk: string },
  epoch: number | undefined,
): Promise<{ point: RestorePoint; newest: RestorePoint }> {
  const points = await runtime.restorePoints();
  const newest = points.get(`${key.target}/${key.feed}/${key.disk}`);
  if (newest === undefined) {
    const disks = [...points.values()]
      .filter((point) => point.target === key.target && point.feed === key.feed)
      .map((point) => point.disk);
    throw new CommandError(
      'EXTENTLOG_ERR_COMMAND_NO_RESTORE_POINT',
      `target ${key.target} has no restore point of disk ${key.disk} of feed ${key.feed} in ${runtime.restorePointsTopic}; ` +
        `it has restore points of ${disks.length === 0 ? 'no disk of that feed' : `disks ${disks.join(', ')}`}`,
    );
  }
  if (epoch === undefined || epoch === newest.epoch) return { point: newest, newest };
  const history = await readRestorePointHistory({
    log: runtime.log,
    topic: runtime.restorePointsTopic,
    codec: runtime.restorePointCodec,
    key: { target: key.target, feed: key.feed, disk: key.disk },
  });
  const point = history.find((entry) => entry.epoch === epoch);
  if (point === undefined)
    throw new CommandError(
      'EXTENTLOG_ERR_COMMAND_NO_RESTORE_POINT',
      `no restore point of epoch ${epoch} for ${key.target}/${key.feed}/${key.disk}: the topic still holds epochs ` +
        `${history.map((entry) => entry.epoch).join(', ')} (compaction keeps only the latest, epoch ${newest.epoch})`,
    );
  return { point, newest };
}

export function main(argv: string[]): Promise<number> {
  return runCommand(COMMAND, async () => {
    const values = parseCommandLine(COMMAND, argv);
    if (values === null) return EXIT_OK;
    const config = await loadConfig(required(values.config, '--config'));
    const targetName = knownName(
      '--target',
      required(values.target, '--target'),
      config.targets.map((target) => target.name),
    );
    const targetConfig = config.targets.find((target) => target.name === targetName)!;
    const feed = knownName('--feed', required(values.feed, '--feed'), targetConfig.feeds);
    const disk = required(values.disk, '--disk');
    const outputPath = required(values.output, '--output');
    const epoch =
      values.epoch === undefined ? undefined : integerOption(values.epoch, '--epoch', 0, 1);
    const targetPath =
      targetConfig.type === 'file' ? pathTemplate(targetConfig.path)({ feed, diskId: disk }) : null;
    const isBlockDevice = await checkOutput(outputPath, values.force === true, targetPath);
    const logging = createCliLogging({
      level: values['log-level'] ?? 'warn',
      file: values['log-file'],
    });
    let runtime: Runtime | null = null;
    let target: Target | null = null;
    let reader: RestorePointReader | null = null;
    try {
      runtime = await startCommandRuntime('restore', config, logging.logger, {
        feeds: false,
        targets: false,
      });
      const { point, newest } = await findRestorePoint(
        runtime,
        { target: targetName, feed, disk },
        epoch,
      );
      target = await buildTarget(targetConfig, logging.logger);
      if (target.openRestorePoint === undefined)
        throw new CommandError(
          'EXTENTLOG_ERR_COMMAND_UNSUPPORTED',
          `target ${targetName} (${target.kind}) cannot hand back restore points`,
        );
      reader = await target.openRestorePoint(point, newest);
      const restored = await writeRestore({
        point,
        reader,
        outputPath,
        isBlockDevice,
        logger: logging.logger,
        onProgress: progressOf(logging, 'restoring', reader.sizeBytes),
      });
      const check = await checkRestored(logging, outputPath, disk, reader);
      logging.display?.stop();
      if (check.output !== restored.sha256 || check.target !== restored.sha256)
        throw new CommandError(
          'EXTENTLOG_ERR_COMMAND_RESTORE_MISMATCH',
          `restored ${outputPath} but the digests differ: read from the target ${restored.sha256}, ` +
            `output ${check.output}, target now ${check.target}` +
            (check.target !== restored.sha256
              ? ' — the target changed while it was read: stop the replay into it and restore again'
              : ' — the output did not keep what was written: check the device or filesystem'),
        );
      process.stdout.write(
        [
          `restored ${targetName} ${feed}/${disk} epoch ${point.epoch} (committed ${new Date(point.committedAtMs).toISOString()}) to ${outputPath}`,
          `  ${reader.sizeBytes} bytes: ${megabytes(restored.writtenBytes)} MB written, ${megabytes(restored.zeroBytes)} MB zero${isBlockDevice ? ' (zeroed)' : ' (left as holes)'}`,
          `  sha256 ${restored.sha256} — the output equals the target`,
        ].join('\n') + '\n',
      );
      return EXIT_OK;
    } finally {
      await reader?.close();
      await target?.close();
      await runtime?.close();
      logging.close();
    }
  });
}

function progressOf(logging: CliLogging, what: string, sizeBytes: number) {
  return (doneBytes: number) =>
    logging.display?.setExtra([
      `${what}: ${sizeBytes === 0 ? 100 : Math.floor((doneBytes / sizeBytes) * 100)}%`,
    ]);
}

/** The output's sha256 and the target's, read again now. */
async function checkRestored(
  logging: CliLogging,
  outputPath: string,
  disk: string,
  reader: RestorePointReader,
): Promise<{ output: string; target: string }> {
  const output = await openImageReader({
    path: outputPath,
    diskId: disk,
    sizeBytes: reader.sizeBytes,
  });
  try {
    const [outputSha256, targetSha256] = await Promise.all([
      sha256OfDisk(output, progressOf(logging, 'checking the output', reader.sizeBytes)),
      sha256OfDisk(reader),
    ]);
    return { output: outputSha256, target: targetSha256 };
  } finally {
    await output.close();
  }
}
