/**
 * A replay of a fixed workload into an S3 target, run as a child process that the crash
 * test kills with SIGKILL at random points. It keeps the replay engine's contract: after
 * each flush it records how far the records are durable (like committed offsets, in a
 * state file renamed into place), and a restart applies only the records after that.
 *
 *   stdout: one line per flush ('flushed <epoch> <applied>') and per seal ('sealed <epoch>')
 */
import { rename, readFile, writeFile } from 'node:fs/promises';
import process from 'node:process';
import { s3TargetSchema } from '../../../bin/config/schema.js';
import { buildS3Target } from '../../../bin/s3-target.js';
import { silentLogger } from '../../support/silent-logger.js';
import { crashWorkload, CRASH_DISK } from './s3-crash-workload.js';

interface Args {
  endpoint: string;
  bucket: string;
  accessKeyIdFile: string;
  secretAccessKeyFile: string;
  stateFile: string;
}

const args = JSON.parse(process.env.EXTENTLOG_CRASH_ARGS ?? '{}') as Args;
const state = JSON.parse(
  await readFile(args.stateFile, 'utf8').catch(() => '{"epoch":1,"applied":0}'),
) as { epoch: number; applied: number };
const parts = await buildS3Target(
  s3TargetSchema.parse({
    type: 's3',
    name: 'crash',
    feeds: ['vm1'],
    provider: 'generic',
    endpoint: args.endpoint,
    bucket: args.bucket,
    credentials: {
      accessKeyIdFile: args.accessKeyIdFile,
      secretAccessKeyFile: args.secretAccessKeyFile,
    },
    chunkSizeBytes: 256 * 1024,
    maxDirtyBytes: 1024 * 1024,
    uploadConcurrency: 4,
  }),
  silentLogger,
);
const disk = await parts.target.openDisk(CRASH_DISK);
const workload = crashWorkload();

async function saveState(epoch: number, applied: number) {
  await writeFile(`${args.stateFile}.new`, JSON.stringify({ epoch, applied }));
  await rename(`${args.stateFile}.new`, args.stateFile);
}

for (let index = state.epoch - 1; index < workload.length; index++) {
  const { begin, extents } = workload[index]!;
  await disk.beginEpoch(begin);
  const from = begin.epoch === state.epoch ? state.applied : 0;
  for (let applied = from; applied < extents.length; applied++) {
    await disk.apply(extents[applied]!);
    if ((applied + 1) % 8 === 0) {
      await disk.flush();
      await saveState(begin.epoch, applied + 1);
      process.stdout.write(`flushed ${begin.epoch} ${applied + 1}\n`);
    }
  }
  await disk.flush();
  await disk.commitEpoch({
    epoch: begin.epoch,
    extentCount: extents.length,
    bytes: 0,
    digest: `digest-${begin.epoch}`,
    sourceReference: begin.sourceReference,
    committedAtMs: begin.epoch,
  });
  await saveState(begin.epoch + 1, 0);
  process.stdout.write(`sealed ${begin.epoch}\n`);
}
await disk.close();
parts.client.destroy();
