/**
 * The VMware source against vcsim behind the CBT emulator (test/vsphere/cbt-emulator.ts):
 * QueryChangedDiskAreas answered from QEMU dirty bitmaps of a real VMDK, paged two areas at
 * a time; snapshot data read through nbdkit's nbd plugin from the emulator's frozen export.
 * The changed areas are exactly what qemu-io wrote; the replica equals the disk; snapshots
 * never outlive a cycle; a CBT reset, or CBT turned off, is a FULL re-baseline that says so.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import type { ChangeSource, CommittedReference } from '../../../producers/source.js';
import { VimClient } from '../../../producers/vmware/vim-client.js';
import { findVirtualMachine, setChangeTracking } from '../../../producers/vmware/vsphere-cbt.js';
import { createVmwareSource } from '../../../producers/vmware/vmware-source.js';
import { bytesByOp, drainChangeSet } from '../../support/drain-change-set.js';
import { sha256OfFile } from '../../support/image-files.js';
import { convertToRaw, qemuImg } from '../../support/qemu-images.js';
import { silentLogger } from '../../support/silent-logger.js';
import { makeTempDir } from '../../support/temp-dir.js';
import { startCbtEmulator, type CbtEmulator } from '../../vsphere/cbt-emulator.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const SIZE = 32 * MiB;

let tmp: { dir: string; remove: () => Promise<void> };
const cleanups: (() => Promise<unknown> | unknown)[] = [];
const cleanup = (fn: () => Promise<unknown> | unknown) => cleanups.push(fn);
let emulator: CbtEmulator;
let source: ChangeSource;
let replica: string;

function sourceWith(command: string[]): ChangeSource {
  return createVmwareSource({
    connection: { url: emulator.sdkUrl, username: 'user', password: 'pass' },
    disks: [{ diskId: 'web-01/disk-0', vm: 'ha-host_VM0' }],
    snapshotReader: { type: 'command', command },
    workDir: path.join(tmp.dir, 'work'),
    logger: silentLogger,
  });
}

before(async () => {
  tmp = await makeTempDir('vmware-source');
  const vmdk = path.join(tmp.dir, 'disk.vmdk');
  await qemuImg('create', '-q', '-f', 'vmdk', vmdk, String(SIZE));
  emulator = await startCbtEmulator(cleanup, {
    dir: tmp.dir,
    vmdk,
    capacityBytes: SIZE,
    pageAreas: 2,
  });
  source = sourceWith(emulator.snapshotReaderCommand);
  cleanup(() => source.close());
  replica = path.join(tmp.dir, 'replica.img');
  await writeFile(replica, Buffer.alloc(SIZE, 0x77));
  await emulator.daemon.write(['write -P 0x11 0 3M', 'write -P 0x22 20M 1M']);
});
after(async () => {
  for (const fn of cleanups.reverse()) await fn();
  await tmp.remove();
});

async function cycle(since: CommittedReference | null) {
  const [disk] = await source.disks();
  const changeSet = await source.open(disk!, since);
  const extents = await drainChangeSet(changeSet, replica);
  return { changeSet, extents };
}

async function assertReplicaIsDisk() {
  const expected = path.join(tmp.dir, 'expected.raw');
  await convertToRaw(emulator.daemon.rwUrl, expected, 'raw');
  assert.equal(await sha256OfFile(replica), await sha256OfFile(expected));
}

let committed: CommittedReference;

test('the first cycle turns CBT on and reads the allocated areas; the rest is ZERO', async () => {
  const { changeSet, extents } = await cycle(null);
  assert.equal(changeSet.mode, 'FULL');
  assert.equal(changeSet.rebaselineReason, undefined);
  assert.match(changeSet.reference, /^vmware-cbt:.+\/1$/);
  assert.deepEqual(
    extents
      .filter((extent) => extent.op === 'WRITE')
      .map((extent) => [extent.offsetBytes, extent.lengthBytes]),
    [
      [0, 3 * MiB],
      [20 * MiB, MiB],
    ],
  );
  assert.equal(bytesByOp(extents).WRITE + bytesByOp(extents).ZERO, SIZE);
  await changeSet.commit();
  await assertReplicaIsDisk();
  assert.deepEqual(await emulator.snapshots(), [], 'the snapshot is removed after commit');
  committed = { epoch: 1, reference: changeSet.reference };
});

test('INCREMENTAL reads exactly the written areas, over several pages', async () => {
  await emulator.daemon.write([
    'write -P 0x33 1M 4k',
    'write -P 0x44 5M 64k',
    'write -P 0x55 9M 128k',
    'write -z 20M 64k',
    'write -P 0x66 30M 64k',
  ]);
  const queriesBefore = emulator.calls.filter((call) => call === 'QueryChangedDiskAreas').length;
  const { changeSet, extents } = await cycle(committed);
  assert.equal(changeSet.mode, 'INCREMENTAL');
  assert.equal(changeSet.baseReference, committed.reference);
  assert.deepEqual(
    extents.map((extent) => [extent.offsetBytes, extent.lengthBytes, extent.op]),
    [
      [MiB, 64 * KiB, 'WRITE'],
      [5 * MiB, 64 * KiB, 'WRITE'],
      [9 * MiB, 128 * KiB, 'WRITE'],
      [20 * MiB, 64 * KiB, 'WRITE'],
      [30 * MiB, 64 * KiB, 'WRITE'],
    ],
  );
  const queries =
    emulator.calls.filter((call) => call === 'QueryChangedDiskAreas').length - queriesBefore;
  assert.equal(queries, 3, 'five areas, two per page');
  await changeSet.commit();
  await assertReplicaIsDisk();
  committed = { epoch: 2, reference: changeSet.reference };
});

test('an aborted cycle removes its snapshot and keeps the committed changeId', async () => {
  await emulator.daemon.write(['write -P 0x77 2M 64k']);
  const [disk] = await source.disks();
  const aborted = await source.open(disk!, committed);
  await aborted.abort(new Error('the broker went away'));
  assert.deepEqual(await emulator.snapshots(), []);
  await emulator.daemon.write(['write -P 0x78 3M 64k']);
  const { changeSet, extents } = await cycle(committed);
  assert.deepEqual(
    extents.map((extent) => extent.offsetBytes),
    [2 * MiB, 3 * MiB],
  );
  await changeSet.commit();
  await assertReplicaIsDisk();
  committed = { epoch: 4, reference: changeSet.reference };
});

test('a CBT reset: QueryChangedDiskAreas refuses the changeId, the cycle re-baselines', async () => {
  await emulator.resetChangeTracking();
  await emulator.daemon.write(['write -P 0x79 12M 64k']);
  const { changeSet } = await cycle(committed);
  assert.equal(changeSet.mode, 'FULL');
  assert.match(
    changeSet.rebaselineReason ?? '',
    /QueryChangedDiskAreas refused changeId .* of epoch 4 \(FileFault: .*\): changed block tracking was reset; reading the whole disk/,
  );
  await changeSet.commit();
  await assertReplicaIsDisk();
  committed = { epoch: 5, reference: changeSet.reference };
});

test('CBT turned off: the source turns it on and re-baselines', async () => {
  const client = await VimClient.connect({
    url: emulator.sdkUrl,
    username: 'user',
    password: 'pass',
  });
  await setChangeTracking(client, (await findVirtualMachine(client, 'ha-host_VM0')).ref, false);
  await client.logout();
  const { changeSet } = await cycle(committed);
  assert.equal(changeSet.mode, 'FULL');
  assert.match(
    changeSet.rebaselineReason ?? '',
    /change tracking was off on VM ha-host_VM0 .*turned it on/,
  );
  await changeSet.commit();
  await assertReplicaIsDisk();
});

test('a snapshot reader that cannot start fails clearly and leaves no snapshot', async () => {
  const broken = sourceWith(['nbdkit', '--foreground', '--unix', '{socket}', 'no-such-plugin']);
  const [disk] = await broken.disks();
  await assert.rejects(broken.open(disk!, null), (error: Error & { code?: string }) => {
    assert.equal(error.code, 'EXTENTLOG_ERR_SOURCE_TOOL');
    assert.match(error.message, /nbdkit .* exited with code/);
    return true;
  });
  assert.deepEqual(await emulator.snapshots(), []);
});
