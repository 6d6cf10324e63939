/**
 * SIGKILL during uploads into radosgw: a child process replays a fixed workload into an S3
 * target and is killed at random points, again and again, then run to the end. After every
 * kill no manifest refers to a missing chunk; the next run completes the interrupted
 * restore point; in the end every restore point restores bit-exactly.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { s3TargetSchema } from '../../../bin/config/schema.js';
import { buildS3Target, type S3TargetParts } from '../../../bin/s3-target.js';
import { listManifests, readManifest } from '../../../consumers/s3/manifest-index.js';
import { startCephCluster, type CephCluster } from '../../support/ceph-cluster.js';
import { manifestSha256, prng } from '../../support/s3-target-fixture.js';
import { silentLogger } from '../../support/silent-logger.js';
import { tempDir } from '../../support/temp-dir.js';
import { CRASH_EPOCHS, crashModelDigests } from './s3-crash-workload.js';

/** Kills before the run that completes the workload. */
const TRIALS = 10;

const child = path.join(path.dirname(fileURLToPath(import.meta.url)), 's3-crash.child.js');
let ceph: CephCluster;
let parts: S3TargetParts | null = null;

before(async () => {
  ceph = await startCephCluster();
});
after(async () => {
  parts?.client.destroy();
  await ceph?.stop();
});

interface Run {
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  readonly lines: string[];
  kill(): void;
  /** Resolves once the child printed `count` lines (or exited). */
  linesSeen(count: number): Promise<void>;
}

function startChild(env: Record<string, string>, onStarted: (pid: number) => void): Run {
  const process_ = spawn(process.execPath, ['--enable-source-maps', child], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  onStarted(process_.pid!);
  const lines: string[] = [];
  const waiters: { count: number; resolve: () => void }[] = [];
  let stderr = '';
  const wake = () => {
    for (const waiter of waiters.splice(0))
      if (
        lines.length >= waiter.count ||
        process_.exitCode !== null ||
        process_.signalCode !== null
      )
        waiter.resolve();
      else waiters.push(waiter);
  };
  let buffered = '';
  process_.stdout.on('data', (chunk: Buffer) => {
    buffered += chunk.toString('utf8');
    const parts = buffered.split('\n');
    buffered = parts.pop()!;
    lines.push(...parts);
    wake();
  });
  process_.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    process_.on('exit', (code, signal) => {
      if (code !== 0 && signal === null) process.stderr.write(stderr);
      resolve({ code, signal });
      for (const waiter of waiters.splice(0)) waiter.resolve();
    }),
  );
  return {
    exited,
    lines,
    kill: () => process_.kill('SIGKILL'),
    linesSeen: (count) =>
      new Promise((resolve) => {
        waiters.push({ count, resolve });
        wake();
      }),
  };
}

async function assertNoDanglingManifest(trial: number): Promise<number> {
  const manifests = await listManifests(parts!.store, parts!.layout);
  for (const entry of manifests) {
    const manifest = await readManifest(parts!.store, entry.key);
    for (const [slot, name] of manifest.chunks.entries())
      assert.ok(
        (await parts!.store.head(parts!.layout.chunkKey(name))) !== null,
        `after kill ${trial}: ${entry.key} slot ${slot} refers to missing chunk ${name}`,
      );
  }
  return manifests.length;
}

test('SIGKILL during uploads never leaves a manifest without its chunks; the next run completes', async (t) => {
  const dir = await tempDir(t, 's3-crash');
  const bucket = await ceph.bucket('crash');
  const env = {
    EXTENTLOG_CRASH_ARGS: JSON.stringify({
      endpoint: ceph.endpoint,
      bucket,
      accessKeyIdFile: ceph.accessKeyIdFile,
      secretAccessKeyFile: ceph.secretAccessKeyFile,
      stateFile: path.join(dir.path, 'state.json'),
    }),
  };
  parts = await buildS3Target(
    s3TargetSchema.parse({
      type: 's3',
      name: 'crash',
      feeds: ['vm1'],
      provider: 'generic',
      endpoint: ceph.endpoint,
      bucket,
      credentials: {
        accessKeyIdFile: ceph.accessKeyIdFile,
        secretAccessKeyFile: ceph.secretAccessKeyFile,
      },
      chunkSizeBytes: 256 * 1024,
    }),
    silentLogger,
  );
  const pids = new Set<number>();
  t.after(() => {
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  });
  const random = prng(2024);
  let sealedBeforeKills = 0;
  for (let trial = 1; trial <= TRIALS; trial++) {
    const run = startChild(env, (pid) => pids.add(pid));
    // Lines come after flushes; the child goes on applying and uploading right away, so
    // the kill lands among the next flush's uploads (and now and then in a commit).
    await run.linesSeen(1 + Math.floor(random() * 6));
    run.kill();
    const { signal } = await run.exited;
    assert.equal(signal, 'SIGKILL', `trial ${trial} was killed, not finished`);
    sealedBeforeKills = await assertNoDanglingManifest(trial);
  }
  assert.ok(sealedBeforeKills < CRASH_EPOCHS, 'the kills came before the workload ended');
  const last = startChild(env, (pid) => pids.add(pid));
  assert.deepEqual(await last.exited, { code: 0, signal: null });

  const digests = crashModelDigests();
  const manifests = await listManifests(parts.store, parts.layout);
  assert.deepEqual(
    manifests.map((entry) => entry.epoch),
    Array.from({ length: CRASH_EPOCHS }, (_, index) => index + 1),
  );
  for (const entry of manifests) {
    assert.equal(
      await manifestSha256(parts.store, parts.chunks, entry.key),
      digests[entry.epoch - 1],
      `epoch ${entry.epoch} restores bit-exactly`,
    );
  }
  let journals = 0;
  for await (const _ of parts.store.list(parts.layout.pendingPrefix())) journals++;
  assert.equal(journals, 0, 'no journal is left once every epoch is sealed');
});
