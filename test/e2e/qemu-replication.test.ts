/**
 * QEMU/KVM dirty bitmaps end to end through `bin/runtime.ts`: a qemu feed into a file
 * target on the embedded broker. After every cycle the target's sha256 equals that of
 * `qemu-img convert -O raw` of the disk at that point; writes go in with qemu-io between
 * cycles. Losing the bitmap (deleted; QEMU restarted without persistent bitmaps) is a FULL
 * re-baseline visible in the log (SyncBegin.rebaselineReason) and in the feed's status, and
 * the target still converges.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { parseConfig } from '../../bin/config/load-config.js';
import { startRuntime, type Runtime } from '../../bin/runtime.js';
import type { CycleResult } from '../../producers/sync-cycle.js';
import { eventually } from '../support/eventually.js';
import { feedRecords } from '../support/feed-records.js';
import { sha256OfFile } from '../support/image-files.js';
import {
  convertToRaw,
  imageBitmaps,
  imageSha256,
  qemuImg,
  qemuIo,
} from '../support/qemu-images.js';
import { startStorageDaemon } from '../support/qemu-storage-daemon.js';
import { silentLogger } from '../support/silent-logger.js';
import { fileTargetEntry } from '../support/spine-configs.js';
import { tempDir, type TempDir } from '../support/temp-dir.js';

const MiB = 1024 * 1024;
const SIZE = 64 * MiB;

async function start(
  dir: TempDir,
  disk: Record<string, unknown>,
  source: Record<string, unknown> = {},
): Promise<Runtime> {
  const config = parseConfig(
    {
      dataDir: path.join(dir.path, 'data'),
      feeds: [
        {
          name: 'vm1',
          source: { type: 'qemu', disks: [{ id: 'disk-0', ...disk }], ...source },
          heartbeatIntervalMs: 0,
        },
      ],
      targets: [
        fileTargetEntry('mirror', ['vm1'], path.join(dir.path, 'mirror', '{feed}-{disk}.img')),
      ],
    },
    'test config',
  );
  const runtime = await startRuntime(config, silentLogger);
  dir.beforeRemoval(() => runtime.close());
  return runtime;
}

async function syncAndReplay(runtime: Runtime): Promise<CycleResult> {
  const [result] = await runtime.feeds.get('vm1')!.syncNow();
  assert.ok(result?.committed, 'the cycle committed');
  const epoch = result.committed.epoch;
  const replay = runtime.replays.get('mirror')!;
  await eventually(
    `restore point of epoch ${epoch}`,
    () => {
      const disk = replay.status().disks.find((entry) => entry.diskId === 'disk-0');
      if (disk?.lastError) throw new Error(disk.lastError.message);
      return (disk?.lastRestorePoint?.epoch ?? 0) >= epoch ? true : undefined;
    },
    60_000,
  );
  return result;
}

const mirrorOf = (dir: TempDir) => path.join(dir.path, 'mirror', 'vm1-disk-0.img');

test('a qcow2 image: cycles with writes between them, then a deleted bitmap', async (t) => {
  const dir = await tempDir(t, 'e2e-qemu-image');
  const image = path.join(dir.path, 'vm1.qcow2');
  await qemuImg('create', '-q', '-f', 'qcow2', image, String(SIZE));
  await qemuIo(image, ['write -P 0x11 0 5M', 'write -P 0x22 33M 3M', 'write -z 40M 2M']);
  const runtime = await start(dir, { image });
  const expected = () => imageSha256(image, path.join(dir.path, 'expected.raw'));

  const writes: string[][] = [
    [],
    ['write -P 0x33 1M 4k', 'write -P 0x44 50M 1M', 'write -z 33M 64k'],
    ['discard 0 1M', 'write -P 0x55 63M 1M', 'write -P 0x66 12345678 1000'],
  ];
  for (const [index, commands] of writes.entries()) {
    if (commands.length > 0) await qemuIo(image, commands);
    const result = await syncAndReplay(runtime);
    assert.equal(result.mode, index === 0 ? 'FULL' : 'INCREMENTAL');
    assert.equal(await sha256OfFile(mirrorOf(dir)), await expected(), `cycle ${index}`);
  }

  const [bitmap] = await imageBitmaps(image);
  await qemuImg('bitmap', '--remove', image, bitmap!.name);
  await qemuIo(image, ['write -P 0x77 20M 3M']);
  const rebaseline = await syncAndReplay(runtime);
  assert.equal(rebaseline.mode, 'FULL');
  assert.match(rebaseline.rebaselineReason ?? '', /dirty bitmap extentlog-.* is gone from image/);
  assert.equal(await sha256OfFile(mirrorOf(dir)), await expected());

  const status = runtime.feeds.get('vm1')!.status().disks[0]!;
  assert.equal(status.lastCycle?.rebaselineReason, rebaseline.rebaselineReason);
  const begins = (await feedRecords(runtime, 'vm1')).filter(
    (record) => record.type === 'sync-begin',
  );
  assert.deepEqual(
    begins.map((record) => [record.mode, record.rebaselineReason !== null]),
    [
      ['FULL', false],
      ['INCREMENTAL', false],
      ['INCREMENTAL', false],
      ['FULL', true],
    ],
  );
  assert.equal(
    begins.at(-1)!.type === 'sync-begin' && begins.at(-1)!.rebaselineReason,
    rebaseline.rebaselineReason,
  );
});

test('a running QEMU (qemu-storage-daemon): writes through NBD, then a restart without persistent bitmaps', async (t) => {
  const dir = await tempDir(t, 'e2e-qemu-live');
  const image = path.join(dir.path, 'vm2.qcow2');
  await qemuImg('create', '-q', '-f', 'qcow2', image, String(SIZE));
  const cleanup = (fn: () => Promise<unknown> | unknown) => dir.beforeRemoval(fn);
  let qsd = await startStorageDaemon(cleanup, { image, dir: dir.path, name: 'vm2' });
  await qsd.write(['write -P 0x11 0 4M', 'write -P 0x22 30M 2M']);
  const runtime = await start(
    dir,
    { qmpSocket: qsd.qmpSocket, node: 'disk0', nbdSocket: qsd.nbdSocket },
    { persistentBitmaps: false },
  );
  const expected = async () => {
    const raw = path.join(dir.path, 'expected.raw');
    await convertToRaw(qsd.rwUrl, raw, 'raw');
    return sha256OfFile(raw);
  };

  for (const commands of [
    [],
    ['write -P 0x33 2M 64k', 'write -z 30M 1M', 'write -P 0x44 60M 4M'],
  ]) {
    if (commands.length > 0) await qsd.write(commands);
    const result = await syncAndReplay(runtime);
    assert.equal(result.mode, commands.length === 0 ? 'FULL' : 'INCREMENTAL');
    assert.equal(await sha256OfFile(mirrorOf(dir)), await expected());
  }

  // The QEMU process restarts; its bitmaps were not persistent, so they are gone.
  await qsd.process.stop();
  qsd = await startStorageDaemon(cleanup, { image, dir: dir.path, name: 'vm2' });
  await qsd.write(['write -P 0x55 10M 1M']);
  const rebaseline = await syncAndReplay(runtime);
  assert.equal(rebaseline.mode, 'FULL');
  assert.match(
    rebaseline.rebaselineReason ?? '',
    /is gone from node disk0 .*restarted without persistent bitmaps/,
  );
  assert.equal(await sha256OfFile(mirrorOf(dir)), await expected());
  const begins = (await feedRecords(runtime, 'vm1')).filter(
    (record) => record.type === 'sync-begin',
  );
  assert.equal(
    begins.at(-1)?.type === 'sync-begin' && begins.at(-1)?.rebaselineReason,
    rebaseline.rebaselineReason,
  );
});
