/**
 * The QEMU source on a running QEMU (qemu-storage-daemon, driven over QMP), written to
 * through an NBD export the way a guest writes: bitmaps rotated in one transaction with a
 * fleecing backup job, so that a cycle reads the disk as it was when the cycle opened even
 * while writes go on; abort merges the new bitmap back; a restart without persistent
 * bitmaps, or a crash that leaves them inconsistent, is a FULL re-baseline; a cycle a dead
 * process left behind is cleaned up by the next one.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { createQemuSource, type QemuSourceOptions } from '../../../producers/qemu/qemu-source.js';
import { QmpClient } from '../../../producers/qemu/qmp-client.js';
import { startServerProcess } from '../../../producers/server-process.js';
import type { ChangeSet, ChangeSource, CommittedReference } from '../../../producers/source.js';
import { drainChangeSet } from '../../support/drain-change-set.js';
import { sha256OfFile } from '../../support/image-files.js';
import { convertToRaw, imageBitmaps, qemuImg, qemuIo } from '../../support/qemu-images.js';
import { startStorageDaemon, type StorageDaemon } from '../../support/qemu-storage-daemon.js';
import { silentLogger } from '../../support/silent-logger.js';
import { makeTempDir } from '../../support/temp-dir.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const SIZE = 32 * MiB;

let tmp: { dir: string; remove: () => Promise<void> };
const cleanups: (() => Promise<unknown> | unknown)[] = [];
const cleanup = (fn: () => Promise<unknown> | unknown) => cleanups.push(fn);
before(async () => {
  tmp = await makeTempDir('qemu-live');
});
after(async () => {
  for (const fn of cleanups.reverse()) await fn();
  await tmp.remove();
});

let caseNumber = 0;
async function setUp(overrides: Partial<QemuSourceOptions> = {}, nbdServer = true) {
  const name = `c${++caseNumber}`;
  const image = path.join(tmp.dir, `${name}.qcow2`);
  const replica = path.join(tmp.dir, `${name}.replica`);
  await qemuImg('create', '-q', '-f', 'qcow2', image, String(SIZE));
  await writeFile(replica, Buffer.alloc(SIZE, 0x77));
  const daemon = await startStorageDaemon(cleanup, { image, dir: tmp.dir, name, nbdServer });
  const makeSource = (qsd: StorageDaemon) =>
    createQemuSource({
      disks: [
        {
          diskId: 'vm-1/disk-0',
          qmpSocket: qsd.qmpSocket,
          node: 'disk0',
          ...(nbdServer ? { nbdSocket: qsd.nbdSocket! } : {}),
        },
      ],
      workDir: path.join(tmp.dir, `${name}-work`),
      logger: silentLogger,
      ...overrides,
    });
  const source = makeSource(daemon);
  cleanups.push(() => source.close());
  if (nbdServer) await daemon.write(['write -P 0x11 0 2M', 'write -P 0x22 9M 1M']);
  return { name, image, replica, daemon, source, makeSource };
}

async function cycle(source: ChangeSource, since: CommittedReference | null, replica: string) {
  const [disk] = await source.disks();
  const changeSet = await source.open(disk!, since);
  const extents = await drainChangeSet(changeSet, replica);
  return { changeSet, extents };
}

/** The disk's content now, read through the daemon's writable export. */
async function contentSha256(daemon: StorageDaemon, scratch: string): Promise<string> {
  await convertToRaw(daemon.rwUrl, scratch, 'raw');
  return sha256OfFile(scratch);
}

async function bitmapsOf(socketPath: string): Promise<{ name: string; recording: boolean }[]> {
  const qmp = await QmpClient.connect(socketPath);
  try {
    const nodes = await qmp.execute<
      { 'node-name': string; 'dirty-bitmaps'?: { name: string; recording: boolean }[] }[]
    >('query-named-block-nodes', { flat: true });
    return nodes.find((node) => node['node-name'] === 'disk0')?.['dirty-bitmaps'] ?? [];
  } finally {
    await qmp.close();
  }
}

function committed(epoch: number, changeSet: ChangeSet): CommittedReference {
  return { epoch, reference: changeSet.reference };
}

test('a cycle reads the disk as it was when it opened, while the guest keeps writing', async () => {
  const { replica, daemon, source } = await setUp();
  const full = await cycle(source, null, replica);
  assert.equal(full.changeSet.mode, 'FULL');
  await full.changeSet.commit();
  assert.equal(await sha256OfFile(replica), await contentSha256(daemon, `${replica}.now`));

  await daemon.write(['write -P 0x33 1M 64k', 'write -P 0x44 20M 128k']);
  const atOpen = await contentSha256(daemon, `${replica}.at-open`);
  const [disk] = await source.disks();
  const incremental = await source.open(disk!, committed(1, full.changeSet));
  assert.equal(incremental.mode, 'INCREMENTAL');
  // The guest writes while the cycle runs: over a range the cycle reads, and elsewhere.
  await daemon.write(['write -P 0x55 1M 64k', 'write -P 0x66 25M 64k']);
  const extents = await drainChangeSet(incremental, replica);
  assert.deepEqual(
    extents.map((extent) => [extent.offsetBytes, extent.lengthBytes]),
    [
      [MiB, 64 * KiB],
      [20 * MiB, 128 * KiB],
    ],
  );
  await incremental.commit();
  assert.equal(await sha256OfFile(replica), atOpen, 'the replica is the disk at the cycle start');

  const next = await cycle(source, committed(2, incremental), replica);
  assert.deepEqual(
    next.extents.map((extent) => [extent.offsetBytes, extent.lengthBytes]),
    [
      [MiB, 64 * KiB],
      [25 * MiB, 64 * KiB],
    ],
    'the writes made during the last cycle come in this one',
  );
  await next.changeSet.commit();
  assert.equal(await sha256OfFile(replica), await contentSha256(daemon, `${replica}.now`));
  const bitmaps = await bitmapsOf(daemon.qmpSocket);
  assert.equal(bitmaps.length, 1);
  assert.equal(bitmaps[0]!.recording, true);
});

test('abort merges the new bitmap back: nothing written meanwhile is lost', async () => {
  const { replica, daemon, source } = await setUp();
  const full = await cycle(source, null, replica);
  await full.changeSet.commit();
  await daemon.write(['write -P 0x33 3M 64k']);
  const [disk] = await source.disks();
  const aborted = await source.open(disk!, committed(1, full.changeSet));
  await daemon.write(['write -P 0x44 4M 64k']);
  await aborted.abort(new Error('the broker went away'));
  const bitmaps = await bitmapsOf(daemon.qmpSocket);
  assert.deepEqual(
    bitmaps.map((bitmap) => bitmap.recording),
    [true],
    'only the committed bitmap remains, recording',
  );
  const again = await cycle(source, committed(1, full.changeSet), replica);
  assert.deepEqual(
    again.extents.map((extent) => extent.offsetBytes),
    [3 * MiB, 4 * MiB],
  );
  await again.changeSet.commit();
  assert.equal(await sha256OfFile(replica), await contentSha256(daemon, `${replica}.now`));
});

test('QEMU restarted without persistent bitmaps: a FULL re-baseline', async () => {
  const { name, image, replica, daemon, source, makeSource } = await setUp({
    persistentBitmaps: false,
  });
  const full = await cycle(source, null, replica);
  await full.changeSet.commit();
  await daemon.process.stop();
  const restarted = await startStorageDaemon(cleanup, { image, dir: tmp.dir, name: `${name}b` });
  await restarted.write(['write -P 0x99 8M 64k']);
  const next = await cycle(makeSource(restarted), committed(1, full.changeSet), replica);
  assert.equal(next.changeSet.mode, 'FULL');
  assert.match(
    next.changeSet.rebaselineReason ?? '',
    /is gone from node disk0 .*restarted without persistent bitmaps/,
  );
  await next.changeSet.commit();
  assert.equal(await sha256OfFile(replica), await contentSha256(restarted, `${replica}.now`));
});

test('persistent bitmaps survive a clean restart; a crash leaves them inconsistent', async () => {
  const { name, image, replica, daemon, source, makeSource } = await setUp();
  const full = await cycle(source, null, replica);
  await full.changeSet.commit();
  await daemon.process.stop(); // saves the bitmap in the qcow2
  const first = await startStorageDaemon(cleanup, { image, dir: tmp.dir, name: `${name}b` });
  await first.write(['write -P 0x98 8M 64k']);
  const incremental = await cycle(makeSource(first), committed(1, full.changeSet), replica);
  assert.equal(incremental.changeSet.mode, 'INCREMENTAL');
  assert.deepEqual(
    incremental.extents.map((extent) => extent.offsetBytes),
    [8 * MiB],
  );
  await incremental.changeSet.commit();
  await first.process.stop();

  const second = await startStorageDaemon(cleanup, { image, dir: tmp.dir, name: `${name}c` });
  await second.write(['write -P 0x97 9M 64k']);
  await second.process.kill(); // the bitmap stays marked in use in the qcow2
  const third = await startStorageDaemon(cleanup, { image, dir: tmp.dir, name: `${name}d` });
  const next = await cycle(makeSource(third), committed(2, incremental.changeSet), replica);
  assert.equal(next.changeSet.mode, 'FULL');
  assert.match(next.changeSet.rebaselineReason ?? '', /is marked inconsistent/);
  await next.changeSet.commit();
  assert.equal(await sha256OfFile(replica), await contentSha256(third, `${replica}.now`));
  const bitmaps = await bitmapsOf(third.qmpSocket);
  assert.equal(bitmaps.length, 1, 'the inconsistent bitmap was removed');
});

test('a cycle left open by a dead process is cleaned up and its writes still come', async () => {
  // QEMU runs no NBD server: the source starts one on its own socket.
  const { replica, source, makeSource, daemon } = await setUp({}, false);
  const full = await cycle(source, null, replica);
  await full.changeSet.commit();
  const rw = await addWritableExport(daemon.qmpSocket);
  await rw.write(['write -P 0x31 2M 64k']);
  const [disk] = await source.disks();
  const orphan = await source.open(disk!, committed(1, full.changeSet));
  void orphan; // the process "dies": neither commit nor abort
  await rw.write(['write -P 0x32 6M 64k']);
  const next = await cycle(makeSource(daemon), committed(1, full.changeSet), replica);
  assert.equal(next.changeSet.mode, 'INCREMENTAL');
  assert.deepEqual(
    next.extents.map((extent) => extent.offsetBytes),
    [2 * MiB, 6 * MiB],
  );
  await next.changeSet.commit();
  await convertToRaw(rw.url, `${replica}.now`, 'raw');
  assert.equal(await sha256OfFile(replica), await sha256OfFile(`${replica}.now`));
});

/** A writable export of disk0 on the NBD server the source started. */
async function addWritableExport(qmpSocket: string) {
  const qmp = await QmpClient.connect(qmpSocket);
  let socketPath: string;
  try {
    const node = 'disk0';
    await qmp.execute('block-export-add', {
      type: 'nbd',
      id: 'rw',
      'node-name': node,
      name: 'rw',
      writable: true,
    });
    socketPath = path.join(tmp.dir, `c${caseNumber}-work`, `${node}-nbd.sock`);
  } finally {
    await qmp.close();
  }
  const url = `nbd+unix:///rw?socket=${socketPath}`;
  return { url, write: (commands: readonly string[]) => qemuIo(url, commands, 'raw') };
}

test("a VM's disk, found by its device id (qemu-system-x86_64, no guest)", async () => {
  const image = path.join(tmp.dir, 'vm.qcow2');
  const replica = path.join(tmp.dir, 'vm.replica');
  await qemuImg('create', '-q', '-f', 'qcow2', image, String(SIZE));
  await qemuIo(image, ['write -P 0x21 0 1M', 'write -P 0x22 17M 64k']);
  await writeFile(replica, Buffer.alloc(SIZE, 0x77));
  const qmpSocket = path.join(tmp.dir, 'vm.qmp');
  const vm = await startServerProcess({
    command: 'qemu-system-x86_64',
    args: [
      '-M',
      'none',
      '-nodefaults',
      '-display',
      'none',
      '-drive',
      `if=none,id=drive0,file=${image},format=qcow2`,
      '-qmp',
      `unix:${qmpSocket},server=on,wait=off`,
    ],
    listensOn: qmpSocket,
  });
  cleanup(() => vm.stop());
  const source = createQemuSource({
    disks: [{ diskId: 'vm/drive0', qmpSocket, node: 'drive0' }],
    workDir: path.join(tmp.dir, 'vm-work'),
    logger: silentLogger,
  });
  cleanups.push(() => source.close());
  const full = await cycle(source, null, replica);
  assert.equal(full.changeSet.mode, 'FULL');
  await full.changeSet.commit();
  await vm.stop(); // saves the persistent bitmap
  assert.equal(
    await sha256OfFile(replica),
    await (async () => {
      await convertToRaw(image, `${replica}.expected`);
      return sha256OfFile(`${replica}.expected`);
    })(),
  );
  const bitmaps = await imageBitmaps(image);
  assert.equal(bitmaps.length, 1, 'the VM saved the bitmap in the qcow2 when it stopped');
  assert.equal(full.changeSet.reference, `qemu-bitmap:${bitmaps[0]!.name}@${SIZE}`);
});
