/**
 * The RBD source end to end on a real single-node Ceph cluster: an image created by
 * `rbd import`, `rbd bench` writes, imported diffs, zeroed and discarded ranges between
 * cycles, replayed into a file target; at every restore point the target's sha256 equals
 * `rbd export` of the cycle's snapshot, and equals an image that Ceph's own
 * `rbd export-diff | rbd import-diff` kept up to date with the same changes. Once through
 * OpenStack (Keystone, Nova and Cinder emulated, real RBD snapshots) and once on images named
 * directly, where a lost snapshot and a resized image re-baseline visibly.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { truncate, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { parseConfig } from '../../bin/config/load-config.js';
import { startRuntime, type Runtime } from '../../bin/runtime.js';
import * as rbd from '../../native/rbd/index.js';
import { parseReference } from '../../producers/rbd/rbd-snapshots.js';
import {
  startOpenStackEmulator,
  type OpenStackEmulator,
} from '../emulators/openstack/openstack-emulator.js';
import { eventually } from '../support/eventually.js';
import { patternBytes, sha256OfFile, writeAt } from '../support/image-files.js';
import { startRbdCluster, type RbdCluster } from '../support/rbd-cluster.js';
import { silentLogger } from '../support/silent-logger.js';
import { tempDir, type TempDir } from '../support/temp-dir.js';

const run = promisify(execFile);
const MiB = 1024 * 1024;
const user = { name: 'replicator', domain: 'Default', password: 's3cret-pw', project: 'dr' };

let ceph: RbdCluster;
let openstack: OpenStackEmulator;
let cluster: rbd.RbdCluster;
before(async () => {
  ceph = await startRbdCluster(['volumes', 'rbd']);
  openstack = await startOpenStackEmulator({
    user,
    pool: 'volumes',
    rbd: (args) => ceph.rbd(args),
  });
  cluster = await rbd.connect({ confPath: ceph.confPath });
});
after(async () => {
  await cluster?.shutdown();
  await openstack?.close();
  await ceph?.stop();
});

async function waitForRestorePoint(runtime: Runtime, disk: string, epoch: number) {
  const replay = runtime.replays.get('mirror')!;
  return eventually(
    `restore point of epoch ${epoch}`,
    () => {
      const status = replay.status().disks.find((entry) => entry.diskId === disk);
      if (status?.lastError) throw new Error(status.lastError.message);
      return (status?.lastRestorePoint?.epoch ?? 0) >= epoch
        ? status!.lastRestorePoint!
        : undefined;
    },
    60_000,
  );
}

/** Keeps `rbd/<mirror>` equal to `spec` with Ceph's own tools, from one snapshot to the next. */
function cephMirror(spec: string, mirror: string, sizeBytes: number) {
  let previous: string | null = null;
  let created = false;
  return async (snapName: string): Promise<void> => {
    if (!created) {
      await ceph.rbd(['create', '--size', `${sizeBytes / MiB}M`, `rbd/${mirror}`]);
      created = true;
    }
    await ceph.rbd(['snap', 'create', `${spec}@${snapName}`]);
    const from = previous === null ? '' : `--from-snap ${previous}`;
    await run('bash', [
      '-c',
      `set -o pipefail; rbd -c ${ceph.confPath} export-diff ${from} ${spec}@${snapName} - | rbd -c ${ceph.confPath} import-diff - rbd/${mirror}`,
    ]);
    previous = snapName;
  };
}

/** sha256 of `rbd export` of an image or snapshot. */
async function exportedSha256(dir: TempDir, spec: string): Promise<string> {
  const file = path.join(dir.path, `export-${randomUUID()}.img`);
  await ceph.rbd(['export', spec, file]);
  return sha256OfFile(file);
}

interface Cycle {
  readonly mutate: (image: rbd.RbdImage) => Promise<unknown>;
  readonly mode: 'FULL' | 'INCREMENTAL';
  readonly rebaseline?: RegExp;
  /** Nothing was written since the previous cycle: an empty diff. */
  readonly unchanged?: boolean;
}

async function replicate(
  dir: TempDir,
  source: Record<string, unknown>,
  diskId: string,
  spec: string,
  sizeBytes: number,
  cycles: readonly Cycle[],
  afterCommit: (reference: string) => Promise<void> = async () => undefined,
) {
  const [pool, image] = spec.split('/') as [string, string];
  const config = parseConfig(
    {
      dataDir: path.join(dir.path, 'data'),
      feeds: [{ name: 'vm', source, heartbeatIntervalMs: 200, readConcurrency: 8 }],
      targets: [
        {
          type: 'file',
          name: 'mirror',
          feeds: ['vm'],
          path: path.join(dir.path, 'target', '{feed}-{disk}.img'),
          flushIntervalMs: 100,
        },
      ],
    },
    'test config',
  );
  const runtime = await startRuntime(config, silentLogger);
  dir.beforeRemoval(() => runtime.close());
  const feed = runtime.feeds.get('vm')!;
  const head = await cluster.openImage(pool, image);
  dir.beforeRemoval(() => head.close());
  const mirror = cephMirror(spec, `mirror-${image}`, sizeBytes);
  const targetFile = path.join(dir.path, 'target', `vm-${diskId}.img`);
  for (const [index, cycle] of cycles.entries()) {
    await cycle.mutate(head);
    await mirror(`cmp-${index}`);
    const [result] = await feed.syncNow();
    assert.ok(result?.committed, `cycle ${index} committed`);
    assert.equal(result.mode, cycle.mode, `cycle ${index} mode`);
    if (cycle.unchanged) assert.deepEqual([result.extentRecords, result.dataBytes], [0, 0]);
    if (cycle.rebaseline) assert.match(result.rebaselineReason ?? '', cycle.rebaseline);
    else assert.equal(result.rebaselineReason, null, `cycle ${index} is no re-baseline`);
    await waitForRestorePoint(runtime, diskId, result.committed.epoch);
    const reference = parseReference(result.committed.reference);
    assert.ok(reference, result.committed.reference);
    const target = await sha256OfFile(targetFile);
    assert.equal(
      target,
      await exportedSha256(dir, `${spec}@${reference.snapName}`),
      `cycle ${index}: the target equals rbd export of ${reference.snapName}`,
    );
    assert.equal(
      target,
      await exportedSha256(dir, `rbd/mirror-${image}`),
      `cycle ${index}: the target equals the export-diff | import-diff copy`,
    );
    await afterCommit(result.committed.reference);
  }
  return { runtime, feed, head };
}

/**
 * A diff in `rbd export-diff`'s v1 format (Ceph's doc/dev/rbd-diff.rst) with zero runs and a
 * write, for `rbd import-diff -`: header, 's' image size, 'z' offset length, 'w' offset length
 * data, 'e'. Integers are little-endian 64-bit.
 */
function diffWithZeroRuns(
  sizeBytes: number,
  zeros: readonly [offsetBytes: number, lengthBytes: number][],
  write: [offsetBytes: number, data: Buffer],
): Buffer {
  const u64 = (value: number) => {
    const buffer = Buffer.alloc(8);
    buffer.writeBigUInt64LE(BigInt(value));
    return buffer;
  };
  return Buffer.concat([
    Buffer.from('rbd diff v1\n'),
    Buffer.from('s'),
    u64(sizeBytes),
    ...zeros.flatMap(([offsetBytes, lengthBytes]) => [
      Buffer.from('z'),
      u64(offsetBytes),
      u64(lengthBytes),
    ]),
    Buffer.from('w'),
    u64(write[0]),
    u64(write[1].length),
    write[1],
    Buffer.from('e'),
  ]);
}

const zeroAndDiscard = async (image: rbd.RbdImage) => {
  await image.write(5 * MiB + 512, Buffer.alloc(3 * MiB)); // zeros over data, unaligned
  await image.discard(20 * MiB + 1000, 6 * MiB); // a discard, unaligned
  await image.write(60 * MiB + 4096 * 3, patternBytes(777, 7)); // a few bytes
};

test('OpenStack: Cinder snapshots of a server volume replicate; every restore point equals rbd export and import-diff', async (t) => {
  const dir = await tempDir(t, 'e2e-rbd-openstack');
  const volumeId = randomUUID();
  const serverId = randomUUID();
  const spec = `volumes/volume-${volumeId}`;
  await ceph.rbd(['create', '--size', '64M', spec]);
  openstack.addServer(serverId, [{ id: volumeId, sizeGiB: 1 }]);
  const passwordFile = path.join(dir.path, 'password');
  await writeFile(passwordFile, `${user.password}\n`, { mode: 0o600 });
  const source = {
    type: 'rbd',
    ceph: { confFile: ceph.confPath },
    openstack: {
      authUrl: openstack.authUrl,
      username: user.name,
      passwordFile,
      projectName: user.project,
      servers: [serverId],
      pool: 'volumes',
    },
  };
  const cycles: Cycle[] = [
    { mode: 'FULL', mutate: () => ceph.bench(spec, 'rand', 8 * MiB) },
    { mode: 'INCREMENTAL', mutate: () => ceph.bench(spec, 'rand', 4 * MiB) },
    { mode: 'INCREMENTAL', mutate: zeroAndDiscard },
    {
      mode: 'INCREMENTAL',
      mutate: async (image) => {
        openstack.revokeTokens(); // the source authenticates again
        await image.write(0, patternBytes(2 * MiB + 4096, 9));
      },
    },
    {
      mode: 'INCREMENTAL',
      mutate: () =>
        ceph.rbd(['import-diff', '-', spec], {
          input: diffWithZeroRuns(
            64 * MiB,
            [
              [3 * MiB + 333, 2 * MiB],
              [40 * MiB, 8 * MiB],
            ],
            [10 * MiB + 7, patternBytes(9000, 11)],
          ),
        }),
    },
    { mode: 'INCREMENTAL', unchanged: true, mutate: async () => undefined },
  ];
  await replicate(dir, source, volumeId, spec, 64 * MiB, cycles, async (reference) => {
    // The previous Cinder snapshot is deleted through Cinder; the current one is kept.
    const current = parseReference(reference)!.snapName.replace(/^snapshot-/, '');
    await eventually('one Cinder snapshot', () => {
      const left = openstack.snapshotsOf(volumeId);
      return left.length === 1 ? left : undefined;
    });
    assert.deepEqual(openstack.snapshotsOf(volumeId), [{ id: current, status: 'available' }]);
  });
  assert.ok((openstack.calls.get('POST /auth/tokens') ?? 0) >= 2, 'authenticated again');
  assert.equal(openstack.calls.get('POST /snapshots'), cycles.length);
  const rbdSnaps = JSON.parse(await ceph.rbd(['snap', 'ls', '--format', 'json', spec])) as {
    name: string;
  }[];
  assert.equal(rbdSnaps.filter((snap) => snap.name.startsWith('snapshot-')).length, 1);
});

test('direct images: a lost snapshot and a resize re-baseline visibly; every restore point equals rbd export', async (t) => {
  const dir = await tempDir(t, 'e2e-rbd-direct');
  const spec = 'rbd/direct-disk';
  // The image starts as an `rbd import` of a sparse file with data at both ends.
  const seed = path.join(dir.path, 'seed.img');
  await writeFile(seed, '');
  await truncate(seed, 48 * MiB);
  await writeAt(seed, 0, patternBytes(3 * MiB + 512, 21));
  await writeAt(seed, 45 * MiB, patternBytes(3 * MiB, 22));
  await ceph.rbd(['import', seed, spec]);
  const source = {
    type: 'rbd',
    ceph: { confFile: ceph.confPath },
    images: [{ id: 'disk-0', pool: 'rbd', image: 'direct-disk' }],
  };
  let lastSnap = '';
  const cycles: Cycle[] = [
    { mode: 'FULL', mutate: () => ceph.bench(spec, 'seq', 6 * MiB) },
    { mode: 'INCREMENTAL', mutate: (image) => image.write(MiB + 100, patternBytes(5000, 3)) },
    {
      mode: 'FULL',
      rebaseline: /no longer exists/,
      mutate: async (image) => {
        await ceph.rbd(['snap', 'rm', `${spec}@${lastSnap}`]);
        await image.write(30 * MiB, patternBytes(MiB, 4));
      },
    },
    {
      mode: 'FULL',
      rebaseline: /resized from 50331648 to 67108864 bytes/,
      mutate: async () => {
        await ceph.rbd(['resize', '--size', '64M', spec]);
        await ceph.bench(spec, 'rand', 2 * MiB);
      },
    },
    { mode: 'INCREMENTAL', mutate: zeroAndDiscard },
  ];
  let sizeBytes = 48 * MiB;
  await replicate(dir, source, 'disk-0', spec, sizeBytes, cycles, async (reference) => {
    lastSnap = parseReference(reference)!.snapName;
    assert.match(lastSnap, /^extentlog-\d+-[0-9a-f]{8}$/);
    const snaps = JSON.parse(await ceph.rbd(['snap', 'ls', '--format', 'json', spec])) as {
      name: string;
    }[];
    assert.deepEqual(
      snaps.filter((snap) => snap.name.startsWith('extentlog-')).map((snap) => snap.name),
      [lastSnap],
      'only the committed snapshot is kept',
    );
    sizeBytes = 64 * MiB;
  });
});
