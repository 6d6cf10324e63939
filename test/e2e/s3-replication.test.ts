/**
 * Replication into object storage end to end: an image source with two disks, the embedded
 * broker, and an S3 target on radosgw (test/peers/ceph.sh). After every cycle each disk's
 * new restore point restores — through `extentlog s3 restore`, from the bucket alone — to
 * an image whose sha256 equals the source's at that point; every older point still does;
 * the second disk, a clone of the first, adds no chunks.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFile, open, truncate, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { parseConfig } from '../../bin/config/load-config.js';
import { startRuntime, type Runtime } from '../../bin/runtime.js';
import { startCephCluster, type CephCluster } from '../support/ceph-cluster.js';
import { eventually } from '../support/eventually.js';
import { patternBytes, sha256OfFile, writeAt } from '../support/image-files.js';
import { silentLogger } from '../support/silent-logger.js';
import { tempDir } from '../support/temp-dir.js';

const run = promisify(execFile);
const MiB = 1024 * 1024;
const cli = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../bin/extentlog.js');
let ceph: CephCluster;

before(async () => {
  ceph = await startCephCluster();
});
after(async () => {
  await ceph?.stop();
});

async function waitForRestorePoint(runtime: Runtime, disk: string, epoch: number) {
  const replay = runtime.replays.get('objects')!;
  try {
    return await eventually(
      `restore point of ${disk} epoch ${epoch}`,
      () => {
        // Both feeds have a disk-0: the clone's feed sends heartbeats from the start.
        const status = replay
          .status()
          .disks.find((entry) => entry.feed === 'vm1' && entry.diskId === disk);
        if (status?.lastError) throw new Error(`${disk}: ${status.lastError.message}`);
        const point = status?.lastRestorePoint;
        return point !== null && point !== undefined && point.epoch >= epoch ? point : undefined;
      },
      90_000,
    );
  } catch (error) {
    // Where the replay stands says why no restore point came.
    throw new Error(`${String(error)}; replay status: ${JSON.stringify(replay.status())}`, {
      cause: error,
    });
  }
}

async function chunkCount(bucket: string): Promise<number> {
  const { ListObjectsV2Command } = await import('@aws-sdk/client-s3');
  const client = ceph.client();
  let count = 0;
  let token: string | undefined;
  do {
    const page = await client.send(
      new ListObjectsV2Command({
        Bucket: bucket,
        Prefix: 'extentlog/chunks/',
        ContinuationToken: token,
      }),
    );
    count += page.KeyCount ?? 0;
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token !== undefined);
  client.destroy();
  return count;
}

test('cycles replayed into radosgw restore to the source at each point; a clone adds no chunks', async (t) => {
  const dir = await tempDir(t, 'e2e-s3');
  const bucket = await ceph.bucket('e2e');
  const source = path.join(dir.path, 'source.img');
  await writeFile(source, '');
  await truncate(source, 40 * MiB);
  await writeAt(source, 0, patternBytes(3 * MiB, 1));
  await writeAt(source, 17 * MiB + 4096, patternBytes(5 * MiB + 123, 2));
  await writeAt(source, 39 * MiB, patternBytes(MiB, 3));
  const clone = path.join(dir.path, 'clone.img');
  await copyFile(source, clone);

  const rawConfig = {
    dataDir: path.join(dir.path, 'data'),
    feeds: [
      {
        name: 'vm1',
        source: { type: 'image', disks: [{ id: 'disk-0', path: source }] },
        heartbeatIntervalMs: 200,
      },
      {
        name: 'vm2',
        source: { type: 'image', disks: [{ id: 'disk-0', path: clone }] },
        heartbeatIntervalMs: 200,
      },
    ],
    targets: [
      {
        type: 's3',
        name: 'objects',
        feeds: ['vm1', 'vm2'],
        provider: 'generic',
        endpoint: ceph.endpoint,
        bucket,
        prefix: 'extentlog',
        credentials: {
          accessKeyIdFile: ceph.accessKeyIdFile,
          secretAccessKeyFile: ceph.secretAccessKeyFile,
        },
        chunkSizeBytes: MiB,
        compression: 'gzip',
        flushIntervalMs: 200,
      },
    ],
  };
  const configFile = path.join(dir.path, 'config.json');
  await writeFile(configFile, JSON.stringify(rawConfig));
  const runtime = await startRuntime(parseConfig(rawConfig, 'test config'), silentLogger);
  dir.beforeRemoval(() => runtime.close());
  const feed = runtime.feeds.get('vm1')!;

  const mutations: ((file: string) => Promise<void>)[] = [
    async () => undefined,
    async (file) => {
      await writeAt(file, 4096 * 10, patternBytes(4096, 4));
      await writeAt(file, 17 * MiB + 4096, Buffer.alloc(2 * MiB));
      await writeAt(file, 30 * MiB + 100, patternBytes(777, 5));
    },
    async (file) => {
      const handle = await open(file, 'r+');
      await handle.truncate(20 * MiB);
      await handle.truncate(40 * MiB);
      await handle.close();
      await writeAt(file, 5 * MiB, patternBytes(3 * 4096, 6));
    },
  ];
  const points: { epoch: number; sha256: string; location: string }[] = [];
  for (const [cycle, mutate] of mutations.entries()) {
    await mutate(source);
    const [result] = await feed.syncNow();
    assert.ok(result?.committed, `cycle ${cycle} committed`);
    const point = await waitForRestorePoint(runtime, 'disk-0', result.committed.epoch);
    assert.match(
      point.location ?? '',
      /^s3:\/\/.*\/extentlog\/manifests\/vm1\/disk-0\/\d{20}\.json$/,
    );
    points.push({
      epoch: point.epoch,
      sha256: await sha256OfFile(source),
      location: point.location!,
    });
  }

  const config = ['-c', configFile, '--target', 'objects', '--feed', 'vm1', '--disk', 'disk-0'];
  for (const point of points) {
    const output = path.join(dir.path, `restored-${point.epoch}.img`);
    const { stdout } = await run(process.execPath, [
      cli,
      's3',
      'restore',
      ...config,
      '--epoch',
      String(point.epoch),
      '--output',
      output,
    ]);
    assert.match(stdout, new RegExp(`sha256\\s+${point.sha256}`));
    assert.equal(await sha256OfFile(output), point.sha256, `epoch ${point.epoch} restores`);
  }
  const verified = await run(process.execPath, [
    cli,
    's3',
    'verify',
    ...config,
    '--against',
    source,
  ]);
  assert.match(verified.stdout, /MATCH/);

  const before = await chunkCount(bucket);
  const [cloneResult] = await runtime.feeds.get('vm2')!.syncNow();
  assert.ok(cloneResult?.committed);
  await eventually(
    'the clone restore point',
    () => {
      const status = runtime.replays
        .get('objects')!
        .status()
        .disks.find((entry) => entry.feed === 'vm2');
      return status?.lastRestorePoint ?? undefined;
    },
    90_000,
  );
  assert.equal(
    await chunkCount(bucket),
    before,
    'the clone, equal to the first disk at cycle 0, adds no chunks',
  );

  const listed = await run(process.execPath, [cli, 's3', 'list', '-c', configFile]);
  assert.equal(listed.stdout.trim().split('\n').length, 1 + points.length + 1);

  // The generic command reads an older point back through the target port, once the
  // runtime (and its embedded broker, which the command starts again) has stopped.
  await runtime.close();
  const oldest = points[0]!;
  const output = path.join(dir.path, 'generic-restore.img');
  await run(process.execPath, [
    cli,
    'restore',
    ...config,
    '--epoch',
    String(oldest.epoch),
    '--output',
    output,
  ]);
  assert.equal(await sha256OfFile(output), oldest.sha256);
});
