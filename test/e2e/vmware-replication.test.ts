/**
 * VMware changed block tracking end to end through `bin/runtime.ts`: a vmware feed (vcsim
 * behind the CBT emulator, snapshot data read through nbdkit) into a file target on the
 * embedded broker. qemu-io writes into the VM's VMDK between cycles; after every cycle the
 * target's sha256 equals `qemu-img convert -O raw` of the disk. A CBT reset is a FULL
 * re-baseline visible in the log (SyncBegin.rebaselineReason) and in the feed's status, and
 * the target converges; at the end the target equals the VMDK file itself.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { parseConfig } from '../../bin/config/load-config.js';
import { startRuntime, type Runtime } from '../../bin/runtime.js';
import type { CycleResult } from '../../producers/sync-cycle.js';
import { eventually } from '../support/eventually.js';
import { feedRecords } from '../support/feed-records.js';
import { sha256OfFile } from '../support/image-files.js';
import { convertToRaw, imageSha256, qemuImg } from '../support/qemu-images.js';
import { silentLogger } from '../support/silent-logger.js';
import { fileTargetEntry } from '../support/spine-configs.js';
import { tempDir } from '../support/temp-dir.js';
import { startCbtEmulator } from '../vsphere/cbt-emulator.js';

const MiB = 1024 * 1024;
const SIZE = 48 * MiB;

async function syncAndReplay(runtime: Runtime): Promise<CycleResult> {
  const [result] = await runtime.feeds.get('vm1')!.syncNow();
  assert.ok(result?.committed, 'the cycle committed');
  const epoch = result.committed.epoch;
  await eventually(
    `restore point of epoch ${epoch}`,
    () => {
      const disk = runtime.replays.get('mirror')!.status().disks[0];
      if (disk?.lastError) throw new Error(disk.lastError.message);
      return (disk?.lastRestorePoint?.epoch ?? 0) >= epoch ? true : undefined;
    },
    60_000,
  );
  return result;
}

test('a VMware VM: cycles with writes between them, then a CBT reset', async (t) => {
  const dir = await tempDir(t, 'e2e-vmware');
  const vmdk = path.join(dir.path, 'web01.vmdk');
  await qemuImg('create', '-q', '-f', 'vmdk', vmdk, String(SIZE));
  const emulator = await startCbtEmulator((fn) => dir.beforeRemoval(fn), {
    dir: dir.path,
    vmdk,
    capacityBytes: SIZE,
    pageAreas: 4,
  });
  const passwordFile = path.join(dir.path, 'vcenter.password');
  await writeFile(passwordFile, 'pass\n', { mode: 0o600 });
  const config = parseConfig(
    {
      dataDir: path.join(dir.path, 'data'),
      feeds: [
        {
          name: 'vm1',
          source: {
            type: 'vmware',
            url: emulator.sdkUrl,
            username: 'user',
            passwordFile,
            disks: [{ id: 'disk-0', vm: 'ha-host_VM0' }],
            snapshotReader: { type: 'command', command: emulator.snapshotReaderCommand },
          },
          heartbeatIntervalMs: 0,
        },
      ],
      targets: [fileTargetEntry('mirror', ['vm1'], path.join(dir.path, 'mirror', '{disk}.img'))],
    },
    'test config',
  );
  const runtime = await startRuntime(config, silentLogger);
  dir.beforeRemoval(() => runtime.close());
  const mirror = path.join(dir.path, 'mirror', 'disk-0.img');
  const expected = async () => {
    const raw = path.join(dir.path, 'expected.raw');
    await convertToRaw(emulator.daemon.rwUrl, raw, 'raw');
    return sha256OfFile(raw);
  };

  const writes: string[][] = [
    ['write -P 0x11 0 4M', 'write -P 0x22 30M 2M'],
    ['write -P 0x33 1M 4k', 'write -P 0x44 40M 1M', 'write -z 30M 64k', 'write -P 0x45 47M 1M'],
    ['write -P 0x55 10M 3M', 'write -P 0x56 12345678 1000'],
  ];
  for (const [index, commands] of writes.entries()) {
    await emulator.daemon.write(commands);
    const result = await syncAndReplay(runtime);
    assert.equal(result.mode, index === 0 ? 'FULL' : 'INCREMENTAL');
    assert.equal(await sha256OfFile(mirror), await expected(), `cycle ${index}`);
  }

  await emulator.resetChangeTracking();
  await emulator.daemon.write(['write -P 0x66 20M 2M']);
  const rebaseline = await syncAndReplay(runtime);
  assert.equal(rebaseline.mode, 'FULL');
  assert.match(rebaseline.rebaselineReason ?? '', /changed block tracking was reset/);
  assert.equal(await sha256OfFile(mirror), await expected());
  assert.equal(
    runtime.feeds.get('vm1')!.status().disks[0]!.lastCycle?.rebaselineReason,
    rebaseline.rebaselineReason,
  );
  const begins = (await feedRecords(runtime, 'vm1')).filter(
    (record) => record.type === 'sync-begin',
  );
  assert.deepEqual(
    begins.map(
      (record) => record.type === 'sync-begin' && [record.mode, record.rebaselineReason !== null],
    ),
    [
      ['FULL', false],
      ['INCREMENTAL', false],
      ['INCREMENTAL', false],
      ['FULL', true],
    ],
  );
  assert.deepEqual(await emulator.snapshots(), [], 'no snapshot outlives its cycle');

  // The VMDK itself, once the "VM" has stopped and flushed it.
  await emulator.daemon.process.stop();
  assert.equal(
    await sha256OfFile(mirror),
    await imageSha256(vmdk, path.join(dir.path, 'vmdk.raw'), 'vmdk'),
  );
});
