/**
 * The rbd addon against a real single-node Ceph cluster: connecting (conf file, explicit
 * monitors, an unreachable monitor), image stat, snapshot management, rbd_diff_iterate2
 * checked against `rbd diff`, many aio reads in flight checked against `rbd export`, librbd
 * refusals as errno + call, and a leak run under valgrind.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { NativeError } from '../../native/errors.js';
import * as rbd from '../../native/rbd/index.js';
import { startRbdCluster, type RbdCluster } from '../support/rbd-cluster.js';
import { makeTempDir } from '../support/temp-dir.js';
import { assertClean, runUnderMemcheck } from '../support/valgrind.js';

const MiB = 1024 * 1024;
const exercise = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '..',
  'support',
  'rbd-exercise.js',
);

let ceph: RbdCluster;
let cluster: rbd.RbdCluster;
let tmp: { dir: string; remove: () => Promise<void> };
before(async () => {
  tmp = await makeTempDir('native-rbd');
  ceph = await startRbdCluster(['rbd']);
  cluster = await rbd.connect({ confPath: ceph.confPath, timeoutMs: 30_000 });
});
after(async () => {
  await cluster?.shutdown();
  await ceph?.stop();
  await tmp?.remove();
});

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

async function syscallError(promise: Promise<unknown>): Promise<Record<string, unknown>> {
  const error = await promise.then(
    () => assert.fail('expected a refusal'),
    (caught: unknown) => caught,
  );
  assert.ok(error instanceof NativeError, String(error));
  assert.equal(error.code, 'EXTENTLOG_ERR_NATIVE_SYSCALL');
  return error.details;
}

test('an image reports its size, object size and features', async () => {
  await ceph.rbd(['create', '--size', '24M', '--object-size', '1M', 'rbd/stat']);
  const image = await cluster.openImage('rbd', 'stat');
  const stat = await image.stat();
  assert.equal(stat.sizeBytes, 24 * MiB);
  assert.equal(stat.objectSizeBytes, MiB);
  assert.equal(stat.order, 20);
  assert.equal(stat.objects, 24);
  assert.equal(stat.features & rbd.RBD_FEATURES.layering, rbd.RBD_FEATURES.layering);
  await image.close();
});

test('snapshots are created, protected, listed, unprotected and removed', async () => {
  await ceph.rbd(['create', '--size', '8M', 'rbd/snaps']);
  const image = await cluster.openImage('rbd', 'snaps');
  await image.createSnapshot('one');
  await image.createSnapshot('two');
  await image.protectSnapshot('two');
  assert.deepEqual(
    (await image.snapshots()).map(({ name, sizeBytes, protected: isProtected }) => ({
      name,
      sizeBytes,
      isProtected,
    })),
    [
      { name: 'one', sizeBytes: 8 * MiB, isProtected: false },
      { name: 'two', sizeBytes: 8 * MiB, isProtected: true },
    ],
  );
  const listed = JSON.parse(await ceph.rbd(['snap', 'ls', '--format', 'json', 'rbd/snaps'])) as {
    name: string;
  }[];
  assert.deepEqual(
    listed.map((snap) => snap.name),
    ['one', 'two'],
  );
  const busy = await syscallError(image.removeSnapshot('two'));
  assert.equal(busy.errno, 'EBUSY');
  assert.equal(busy.syscall, 'rbd_snap_remove');
  await image.unprotectSnapshot('two');
  await image.removeSnapshot('two');
  await image.removeSnapshot('one');
  const gone = await syscallError(image.removeSnapshot('one'));
  assert.equal(gone.errno, 'ENOENT');
  assert.deepEqual(await image.snapshots(), []);
  await image.close();
});

test('diff_iterate2 between snapshots reports what `rbd diff` reports', async () => {
  await ceph.rbd(['create', '--size', '64M', 'rbd/diffs']);
  const head = await cluster.openImage('rbd', 'diffs');
  await head.write(0, Buffer.alloc(3 * MiB, 1));
  await head.write(40 * MiB + 4096, Buffer.alloc(12345, 2));
  await head.createSnapshot('base');
  await head.write(4096, Buffer.alloc(8192, 3));
  await head.discard(MiB, 2 * MiB);
  await head.write(63 * MiB, Buffer.alloc(MiB, 4));
  await head.createSnapshot('next');
  const atNext = await cluster.openImage('rbd', 'diffs', { snapName: 'next' });
  for (const from of ['base', null] as const) {
    const ours = await atNext.diff(from, 0, 64 * MiB);
    const theirs = JSON.parse(
      await ceph.rbd([
        'diff',
        ...(from === null ? [] : ['--from-snap', from]),
        '--format',
        'json',
        'rbd/diffs@next',
      ]),
    ) as { offset: number; length: number; exists: string }[];
    assert.deepEqual(
      ours,
      theirs.map((entry) => ({
        offsetBytes: entry.offset,
        lengthBytes: entry.length,
        exists: entry.exists === 'true',
      })),
      `diff from ${from ?? 'creation'}`,
    );
    assert.ok(ours.length > 0);
  }
  // A range's diff is the whole diff clipped to it (RBD reports whole new objects).
  const tail = await atNext.diff('base', 60 * MiB, 4 * MiB);
  assert.deepEqual(
    tail,
    (await atNext.diff('base', 0, 64 * MiB)).filter((extent) => extent.offsetBytes >= 60 * MiB),
  );
  assert.ok(tail.some((extent) => extent.offsetBytes <= 63 * MiB && extent.exists));
  await atNext.close();
  await head.close();
});

test('32 aio reads in flight read exactly what `rbd export` exports', async () => {
  await ceph.rbd(['create', '--size', '16M', 'rbd/reads']);
  await ceph.bench('rbd/reads', 'rand', 8 * MiB);
  const head = await cluster.openImage('rbd', 'reads');
  await head.createSnapshot('s');
  await head.write(0, Buffer.alloc(MiB, 9)); // after the snapshot: must not show
  const image = await cluster.openImage('rbd', 'reads', { snapName: 's' });
  const pieceBytes = 512 * 1024;
  const pieces = await Promise.all(
    Array.from({ length: 32 }, (_, index) => image.read(index * pieceBytes, pieceBytes)),
  );
  const exported = path.join(tmp.dir, 'reads.img');
  await ceph.rbd(['export', 'rbd/reads@s', exported]);
  assert.equal(sha256(Buffer.concat(pieces)), sha256(await readFile(exported)));
  const readOnly = await syscallError(image.write(0, Buffer.alloc(512)));
  assert.equal(readOnly.errno, 'EROFS');
  await assert.rejects(image.read(16 * MiB - 10, 100), /within the image/);
  await image.close();
  await head.close();
});

test('librbd refusals carry errno and the failing call', async () => {
  const missingImage = await syscallError(cluster.openImage('rbd', 'no-such-image'));
  assert.deepEqual([missingImage.errno, missingImage.syscall], ['ENOENT', 'rbd_open']);
  const missingPool = await syscallError(cluster.openImage('no-such-pool', 'x'));
  assert.deepEqual([missingPool.errno, missingPool.syscall], ['ENOENT', 'rados_ioctx_create']);
  await ceph.rbd(['create', '--size', '4M', 'rbd/refusals']);
  const missingSnap = await syscallError(
    cluster.openImage('rbd', 'refusals', { snapName: 'nope' }),
  );
  assert.deepEqual([missingSnap.errno, missingSnap.syscall], ['ENOENT', 'rbd_open_read_only']);
  const image = await cluster.openImage('rbd', 'refusals');
  const fromMissing = await syscallError(image.diff('nope', 0, 4 * MiB));
  assert.deepEqual([fromMissing.errno, fromMissing.syscall], ['ENOENT', 'rbd_diff_iterate2']);
  await image.close();
  await assert.rejects(image.stat(), { code: 'EXTENTLOG_ERR_NATIVE_INVALID_ARGUMENT' });
  await assert.rejects(() => image.read(-1, 1), { code: 'EXTENTLOG_ERR_NATIVE_INVALID_ARGUMENT' });
});

test('explicit monitors connect; an unreachable monitor times out with ETIMEDOUT', async () => {
  const direct = await rbd.connect({
    monHosts: ceph.monHosts,
    timeoutMs: 10_000,
    settings: { auth_client_required: 'none' },
  });
  await ceph.rbd(['create', '--size', '4M', 'rbd/direct']);
  const image = await direct.openImage('rbd', 'direct');
  assert.equal((await image.stat()).sizeBytes, 4 * MiB);
  await direct.shutdown();
  const unreachable = await syscallError(
    rbd.connect({
      monHosts: ['127.0.0.1:9'],
      timeoutMs: 2000,
      settings: { auth_client_required: 'none' },
    }),
  );
  assert.deepEqual([unreachable.errno, unreachable.syscall], ['ETIMEDOUT', 'rados_connect']);
  await assert.rejects(rbd.connect({ timeoutMs: 2000 }), /confPath or monHosts/);
});

test('every rbd call, many times, leaks nothing and touches no invalid memory (valgrind)', async () => {
  await ceph.rbd(['create', '--size', '4M', 'rbd/exercise']);
  const run = await runUnderMemcheck(
    exercise,
    ['20', ceph.confPath, 'rbd'],
    path.join(tmp.dir, 'valgrind.log'),
  );
  assertClean(run);
});
