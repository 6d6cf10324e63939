/**
 * The EBS source against the emulator through the unmodified AWS SDK: cycles reproduce the
 * volume byte for byte (FULL, then INCREMENTAL from ListChangedBlocks, with pagination),
 * older snapshots are deleted after commit, throttling and 5xx storms are ridden out under
 * the configured request rate, and corrupt blocks, expired tokens and deleted base
 * snapshots end in clear errors or a visible re-baseline — never a silent gap.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { CloudError } from '../../cloud/errors.js';
import type { ChangeSource, CommittedReference, DiskInfo } from '../../producers/source.js';
import { startEmulator, type EmulatorFixture } from '../support/aws-emulator.js';
import { applyCycle, maxRequestsInWindow, testEbsSource } from '../support/ebs-source-fixture.js';
import { patternBytes, sha256OfSparseFile, writeAt } from '../support/image-files.js';

const BLOCK = 512 * 1024;
const GiB = 1024 * 1024 * 1024;

async function commitCycle(
  source: ChangeSource,
  disk: DiskInfo,
  since: CommittedReference | null,
  replica: string,
) {
  const changeSet = await source.open(disk, since);
  const totals = await applyCycle(changeSet, replica);
  await changeSet.commit();
  return {
    changeSet,
    totals,
    next: { epoch: (since?.epoch ?? 0) + 1, reference: changeSet.reference },
  };
}

async function volumeWithData(fixture: EmulatorFixture, blocks: number, seed: number) {
  const volume = await fixture.aws.addVolume({ sizeGiB: 1 });
  for (let index = 0; index < blocks; index++)
    await writeAt(volume.path, index * 3 * BLOCK + 4096, patternBytes(8192, seed + index));
  return volume;
}

test('FULL then INCREMENTAL cycles reproduce the volume and keep one snapshot', async (t) => {
  const fixture = await startEmulator(t);
  const volume = await volumeWithData(fixture, 130, 1); // more than one page of 100
  const source = testEbsSource(fixture, {
    volumes: [{ volumeId: volume.volumeId, diskId: 'root' }],
  });
  const [disk] = await source.disks();
  assert.deepEqual(disk, { diskId: 'root', sizeBytes: GiB, blockSizeBytes: BLOCK });
  const replica = path.join(fixture.dir.path, 'replica.img');

  const full = await commitCycle(source, disk!, null, replica);
  assert.equal(full.changeSet.mode, 'FULL');
  assert.match(full.changeSet.reference, /^ebs:snap-[0-9a-f]+$/);
  assert.equal(full.totals.WRITE + full.totals.ZERO, GiB, 'a FULL cycle covers the whole disk');
  assert.equal(full.totals.WRITE, 130 * BLOCK);
  assert.equal(await sha256OfSparseFile(replica), await sha256OfSparseFile(volume.path));

  await writeAt(volume.path, 4096, patternBytes(100, 7)); // a listed block changes
  await writeAt(volume.path, 2 * BLOCK, Buffer.alloc(BLOCK)); // zeros written into a hole
  await writeAt(volume.path, GiB - 10, patternBytes(10, 8)); // the last block
  const incremental = await commitCycle(source, disk!, full.next, replica);
  assert.equal(incremental.changeSet.mode, 'INCREMENTAL');
  assert.equal(incremental.changeSet.baseReference, full.changeSet.reference);
  assert.equal(incremental.totals.WRITE, 3 * BLOCK);
  assert.equal(await sha256OfSparseFile(replica), await sha256OfSparseFile(volume.path));

  const handle = await import('node:fs/promises').then((fs) => fs.open(volume.path, 'r+'));
  await handle.truncate(GiB / 2); // the upper half becomes unwritten …
  await handle.truncate(GiB); // … and reads as zeros
  await handle.close();
  const shrunk = await commitCycle(source, disk!, incremental.next, replica);
  assert.ok(shrunk.totals.ZERO > 0, 'blocks no longer in the snapshot come as ZERO');
  assert.equal(await sha256OfSparseFile(replica), await sha256OfSparseFile(volume.path));

  const left = fixture.aws.snapshots().filter((snapshot) => snapshot.volumeId === volume.volumeId);
  assert.deepEqual(
    left.map((snapshot) => `ebs:${snapshot.snapshotId}`),
    [shrunk.changeSet.reference],
    'older snapshots are deleted once a cycle commits',
  );
  await source.close();
});

test('throttling and 5xx storms: the cycle completes under the request rate, nothing missing', async (t) => {
  const fixture = await startEmulator(t);
  const volume = await volumeWithData(fixture, 60, 3);
  const ratePerSecond = 60;
  const burst = 4;
  const source = testEbsSource(fixture, {
    volumes: [{ volumeId: volume.volumeId }],
    ratePerSecond,
    burst,
    readConcurrency: 16,
  });
  const [disk] = await source.disks();
  const replica = path.join(fixture.dir.path, 'replica.img');
  fixture.aws.setFaults({ throttleEvery: 3, unavailableEvery: 5, corruptBlockEvery: 7 });
  const full = await commitCycle(source, disk!, null, replica);
  assert.equal(await sha256OfSparseFile(replica), await sha256OfSparseFile(volume.path));
  assert.equal(full.totals.WRITE, 60 * BLOCK, 'no block missing');
  const injected = fixture.aws.faults.injected;
  assert.ok(
    injected.throttle > 10 && injected.unavailable > 5 && injected.corrupt > 3,
    JSON.stringify(injected),
  );

  for (let index = 0; index < 60; index += 2)
    await writeAt(volume.path, index * 3 * BLOCK, patternBytes(512, 100 + index));
  await commitCycle(source, disk!, full.next, replica);
  assert.equal(await sha256OfSparseFile(replica), await sha256OfSparseFile(volume.path));

  // The bucket admits burst + rate × window; arrival jitter of a loaded machine adds a little.
  const most = maxRequestsInWindow(fixture.aws.requests, 1000);
  assert.ok(
    most <= burst + ratePerSecond * 1.2,
    `at most ${burst} + ${ratePerSecond}/s requests in any second, saw ${most}`,
  );
  assert.ok(fixture.aws.requests.length > ratePerSecond, 'the cycles ran longer than a second');
});

test('a block whose checksum never matches fails the cycle with a clear error', async (t) => {
  const fixture = await startEmulator(t);
  const volume = await volumeWithData(fixture, 5, 5);
  const source = testEbsSource(fixture, { volumes: [{ volumeId: volume.volumeId }] });
  const [disk] = await source.disks();
  const changeSet = await source.open(disk!, null);
  const snapshotId = changeSet.reference.slice('ebs:'.length);
  fixture.aws.setFaults({ corruptBlocks: [`${snapshotId}:6`] });
  await assert.rejects(
    applyCycle(changeSet, path.join(fixture.dir.path, 'replica.img')),
    (error: unknown) =>
      error instanceof CloudError &&
      error.code === 'EXTENTLOG_ERR_CLOUD_CHECKSUM' &&
      error.message.includes('block 6') &&
      error.message.includes(snapshotId),
  );
  await changeSet.abort('test');
  assert.equal(
    fixture.aws.snapshot(snapshotId),
    undefined,
    'the aborted cycle deletes its snapshot',
  );
});

test('expired block tokens are renewed by listing again; tokens that stay expired fail clearly', async (t) => {
  const fixture = await startEmulator(t);
  const volume = await volumeWithData(fixture, 12, 9);
  const source = testEbsSource(fixture, { volumes: [{ volumeId: volume.volumeId }] });
  const [disk] = await source.disks();
  const replica = path.join(fixture.dir.path, 'replica.img');
  fixture.aws.setFaults({ expireBlockTokenEvery: 3 });
  await commitCycle(source, disk!, null, replica);
  assert.ok(fixture.aws.faults.injected.expiredToken >= 2);
  assert.equal(await sha256OfSparseFile(replica), await sha256OfSparseFile(volume.path));

  fixture.aws.setFaults({});
  fixture.aws.setBlockTokenTtl(-1);
  const changeSet = await source.open(disk!, null);
  await assert.rejects(applyCycle(changeSet, replica), (error: unknown) => {
    assert.ok(error instanceof CloudError);
    assert.equal(error.code, 'EXTENTLOG_ERR_CLOUD_BLOCK_TOKEN');
    assert.match(error.message, /refused/);
    return true;
  });
  await changeSet.abort('test');
});

test('an expired session token fails with a non-retriable credentials error', async (t) => {
  const fixture = await startEmulator(t);
  const volume = await volumeWithData(fixture, 2, 11);
  const source = testEbsSource(fixture, { volumes: [{ volumeId: volume.volumeId }] });
  const [disk] = await source.disks();
  fixture.aws.expireSessionToken();
  await assert.rejects(source.open(disk!, null), (error: unknown) => {
    assert.ok(error instanceof CloudError);
    assert.equal(error.code, 'EXTENTLOG_ERR_CLOUD_AUTH');
    assert.equal(error.retriable, false);
    assert.match(error.message, /expired/);
    assert.match(error.message, /credentials/);
    return true;
  });
});

test('a deleted base snapshot makes the next cycle a FULL one that says why', async (t) => {
  const fixture = await startEmulator(t);
  const volume = await volumeWithData(fixture, 4, 13);
  const source = testEbsSource(fixture, { volumes: [{ volumeId: volume.volumeId }] });
  const [disk] = await source.disks();
  const replica = path.join(fixture.dir.path, 'replica.img');
  const full = await commitCycle(source, disk!, null, replica);
  fixture.aws.deleteSnapshot(full.changeSet.reference.slice('ebs:'.length));
  await writeAt(volume.path, 9 * BLOCK, patternBytes(1000, 14));
  const again = await commitCycle(source, disk!, full.next, replica);
  assert.equal(again.changeSet.mode, 'FULL');
  assert.match(again.changeSet.rebaselineReason ?? '', /no longer exists/);
  assert.equal(await sha256OfSparseFile(replica), await sha256OfSparseFile(volume.path));
});

test('an instance is snapshotted with CreateSnapshots: all its disks read one instant', async (t) => {
  const fixture = await startEmulator(t);
  const root = await fixture.aws.addVolume({
    sizeGiB: 1,
    instanceId: 'i-0abc',
    device: '/dev/xvda',
  });
  const data = await fixture.aws.addVolume({
    sizeGiB: 2,
    instanceId: 'i-0abc',
    device: '/dev/xvdb',
  });
  await writeAt(root.path, 0, patternBytes(BLOCK * 3, 1));
  await writeAt(data.path, GiB + 5, patternBytes(BLOCK, 2));
  const source = testEbsSource(fixture, { instance: { instanceId: 'i-0abc' } });
  const disks = await source.disks();
  assert.deepEqual(
    disks.map((disk) => [disk.diskId, disk.sizeBytes]),
    [
      [root.volumeId, GiB],
      [data.volumeId, 2 * GiB],
    ],
  );
  const changeSets = await Promise.all(disks.map((disk) => source.open(disk, null)));
  // Written after the snapshots: not part of this cycle.
  await writeAt(data.path, 0, patternBytes(100, 3));
  const creates = fixture.aws.requests.filter((request) => request.operation === 'CreateSnapshots');
  assert.equal(creates.length, 1, 'one CreateSnapshots for both disks');
  for (const [index, changeSet] of changeSets.entries()) {
    const replica = path.join(fixture.dir.path, `replica-${index}.img`);
    await applyCycle(changeSet, replica);
    await changeSet.commit();
  }
  assert.equal(
    await sha256OfSparseFile(path.join(fixture.dir.path, 'replica-0.img')),
    await sha256OfSparseFile(root.path),
  );
  const expected = await sha256OfSparseFile(path.join(fixture.dir.path, 'replica-1.img'));
  assert.notEqual(
    expected,
    await sha256OfSparseFile(data.path),
    'the later write is not in the cycle',
  );
  await source.close();

  const dataOnly = testEbsSource(fixture, {
    instance: { instanceId: 'i-0abc', excludeBootVolume: true },
  });
  const [dataDisk, ...others] = await dataOnly.disks();
  assert.deepEqual(
    [dataDisk?.diskId, others.length],
    [data.volumeId, 0],
    'the boot volume is left out',
  );
  const cycle = await dataOnly.open(dataDisk!, null);
  await applyCycle(cycle, path.join(fixture.dir.path, 'replica-data.img'));
  await cycle.commit();
  assert.equal(
    await sha256OfSparseFile(path.join(fixture.dir.path, 'replica-data.img')),
    await sha256OfSparseFile(data.path),
  );
  await dataOnly.close();
});
