/**
 * The EBS target against the emulator: epochs of extents (unaligned writes, zero runs)
 * become snapshots, each the child of the previous one; read back block by block they equal
 * a model image that received the same extents. Partial blocks are merged with the parent's
 * block, a restarted epoch resumes from its staging, a completed epoch is not written twice,
 * and a deleted base snapshot is a clear error.
 */
import assert from 'node:assert/strict';
import { open } from 'node:fs/promises';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { sha256OfDisk } from '../../bin/image-sha256.js';
import { createAwsCaller } from '../../cloud/aws/aws-caller.js';
import { TokenBucket } from '../../cloud/token-bucket.js';
import { createEbsTarget } from '../../consumers/ebs/ebs-target.js';
import { TargetError } from '../../consumers/errors.js';
import type { ApplyExtent, EpochBegin, Target, TargetDisk } from '../../consumers/target.js';
import type { RestorePoint } from '../../schemas/restore-point.js';
import { startEmulator, type EmulatorFixture } from '../support/aws-emulator.js';
import { patternBytes, sha256OfSparseFile } from '../support/image-files.js';
import { silentLogger } from '../support/silent-logger.js';

const BLOCK = 512 * 1024;
const GiB = 1024 * 1024 * 1024;
const DISK = { feed: 'vm1', diskId: 'disk/0', sizeBytes: GiB, blockSizeBytes: 4096 };

function target(fixture: EmulatorFixture, stagingDir: string): Target {
  return createEbsTarget({
    name: 'aws',
    ebs: fixture.clients.ebs,
    ec2: fixture.clients.ec2,
    caller: createAwsCaller({
      bucket: new TokenBucket({ ratePerSecond: 5000, burst: 100 }),
      retry: { maxAttempts: 10, baseDelayMs: 5, maxDelayMs: 100 },
    }),
    stagingDir,
    putConcurrency: 8,
    polling: { initialPollMs: 2, maxPollMs: 20, timeoutMs: 30_000 },
    logger: silentLogger,
  });
}

/** The emulator, an empty model image, and the disk opened on an EBS target. */
async function openTestDisk(t: TestContext) {
  const fixture = await startEmulator(t);
  const model = path.join(fixture.dir.path, 'model.img');
  await createImage(model);
  const ebsTarget = target(fixture, path.join(fixture.dir.path, 'staging'));
  const disk = await ebsTarget.openDisk(DISK);
  return { fixture, model, ebsTarget, disk };
}

/** Applies the extents to the target disk and to the model image alike. */
async function applyBoth(disk: TargetDisk, model: string, extents: ApplyExtent[]) {
  const handle = await open(model, 'r+');
  try {
    for (const extent of extents) {
      await disk.apply(extent);
      await handle.write(
        extent.data ?? Buffer.alloc(extent.lengthBytes),
        0,
        extent.lengthBytes,
        extent.offsetBytes,
      );
    }
  } finally {
    await handle.close();
  }
}

/** The begin of an epoch: FULL without a base epoch, INCREMENTAL on top of `baseEpoch`. */
const begin = (epoch: number, baseEpoch: number | null): EpochBegin => ({
  epoch,
  mode: baseEpoch === null ? 'FULL' : 'INCREMENTAL',
  diskSizeBytes: GiB,
  baseEpoch,
  sourceReference: `test:${epoch}`,
});

/** An empty (sparse) model image of the disk's size. */
async function createImage(filePath: string) {
  const handle = await open(filePath, 'w');
  await handle.truncate(GiB).finally(() => handle.close());
}

const write = (offsetBytes: number, lengthBytes: number, seed: number): ApplyExtent => ({
  offsetBytes,
  lengthBytes,
  op: 'WRITE',
  data: patternBytes(lengthBytes, seed),
});
const zero = (offsetBytes: number, lengthBytes: number): ApplyExtent => ({
  offsetBytes,
  lengthBytes,
  op: 'ZERO',
  data: null,
});

async function commit(disk: TargetDisk, epoch: number) {
  await disk.flush();
  return disk.commitEpoch({
    epoch,
    extentCount: 1,
    bytes: 1,
    digest: 'ab'.repeat(32),
    sourceReference: `test:${epoch}`,
    committedAtMs: Date.now(),
  });
}

function point(epoch: number, location: string | undefined): RestorePoint {
  return {
    target: 'aws',
    feed: DISK.feed,
    disk: DISK.diskId,
    epoch,
    sourceReference: `test:${epoch}`,
    digest: 'ab'.repeat(32),
    diskSizeBytes: GiB,
    committedAtMs: 0,
    durableAtMs: 0,
    location: location ?? null,
  };
}

async function readBackSha(ebsTarget: Target, epoch: number, location: string | undefined) {
  const reader = await ebsTarget.openRestorePoint!(point(epoch, location), point(epoch, location));
  try {
    return await sha256OfDisk(reader);
  } finally {
    await reader.close();
  }
}

test('epochs become snapshot chains that read back equal to the model image', async (t) => {
  const { fixture, model, ebsTarget, disk } = await openTestDisk(t);

  await disk.beginEpoch(begin(1, null));
  await applyBoth(disk, model, [
    write(0, 3 * BLOCK + 4096, 1), // whole blocks and a partial one
    zero(3 * BLOCK + 4096, 200 * BLOCK), // zeros up to beyond, never written: left out
    write(300 * BLOCK + 17, 1000, 2), // unaligned, inside one block
    write(GiB - BLOCK, BLOCK, 3), // the last block
  ]);
  const first = await commit(disk, 1);
  assert.match(first.location ?? '', /^snap-/);
  const firstSnapshot = fixture.aws.snapshot(first.location!)!;
  assert.equal(firstSnapshot.parentId, null);
  assert.equal(firstSnapshot.written.size, 6, 'only blocks with data are written in a FULL epoch');
  assert.equal(firstSnapshot.tags.get('extentlog:epoch'), '1');
  assert.equal(firstSnapshot.tags.get('extentlog:disk'), 'disk/0');
  assert.equal(await readBackSha(ebsTarget, 1, first.location), await sha256OfSparseFile(model));

  await disk.beginEpoch(begin(2, 1));
  await applyBoth(disk, model, [
    write(BLOCK + 100, 50, 4), // partial: merged with the parent's block
    zero(2 * BLOCK, BLOCK), // a whole block of the parent zeroed: written as zeros
    zero(300 * BLOCK, 4096), // partial zeros inside the parent's block
    write(500 * BLOCK + 5, 10, 5), // partial, where the parent has nothing
  ]);
  const second = await commit(disk, 2);
  const secondSnapshot = fixture.aws.snapshot(second.location!)!;
  assert.equal(secondSnapshot.parentId, first.location);
  assert.deepEqual(
    [...secondSnapshot.written.keys()].sort((a, b) => a - b),
    [1, 2, 300, 500],
  );
  assert.equal(await readBackSha(ebsTarget, 2, second.location), await sha256OfSparseFile(model));
  // The first restore point is still there, unchanged.
  const modelSha = await sha256OfSparseFile(model);
  assert.notEqual(await readBackSha(ebsTarget, 1, first.location), modelSha);
  await ebsTarget.close();
});

test('partial blocks merge with their parent blocks in parallel, later writes in order', async (t) => {
  const { fixture, model, ebsTarget, disk } = await openTestDisk(t);
  await disk.beginEpoch(begin(1, null));
  const parentBlocks = Array.from({ length: 40 }, (_, index) => index * 3);
  await applyBoth(
    disk,
    model,
    parentBlocks.map((block) => write(block * BLOCK, BLOCK, block)),
  );
  await commit(disk, 1);

  await disk.beginEpoch(begin(2, 1));
  // More partial blocks than parent reads at once; each block written again while its
  // parent block may still be on its way: a partial write, a whole-block zero, a write.
  const extents = parentBlocks.flatMap((block, index) => [
    write(block * BLOCK + 1000, 3000, 100 + index),
    write(block * BLOCK + 2000, 100, 200 + index),
    ...(index % 4 === 0 ? [zero(block * BLOCK, BLOCK), write(block * BLOCK + 7, 9, 300)] : []),
    ...(index % 5 === 0 ? [write(block * BLOCK, BLOCK, 400 + index)] : []),
  ]);
  await applyBoth(disk, model, extents);
  const second = await commit(disk, 2);
  assert.equal(await readBackSha(ebsTarget, 2, second.location), await sha256OfSparseFile(model));

  // A parent read that fails for good surfaces at the latest at flush, before any offset
  // could be committed for the write that needed it.
  await disk.beginEpoch(begin(3, 2));
  fixture.aws.expireSessionToken();
  await assert.rejects(
    async () => {
      await disk.apply(write(3 * BLOCK + 10, 10, 1));
      await disk.flush();
    },
    (error: unknown) =>
      error instanceof TargetError && error.retriable === false && /expired/.test(error.message),
  );
  await ebsTarget.close();
});

test('a disk id longer than a tag value still finds its base snapshot', async (t) => {
  const fixture = await startEmulator(t);
  const ebsTarget = target(fixture, path.join(fixture.dir.path, 'staging'));
  const disk = await ebsTarget.openDisk({ ...DISK, diskId: `vm1/${'d'.repeat(300)}` });
  await disk.beginEpoch(begin(1, null));
  await disk.apply(write(0, BLOCK, 1));
  const first = await commit(disk, 1);
  await disk.beginEpoch(begin(2, 1));
  await disk.apply(write(BLOCK, 100, 2));
  const second = await commit(disk, 2);
  assert.equal(fixture.aws.snapshot(second.location!)!.parentId, first.location);
  assert.match(fixture.aws.snapshot(first.location!)!.tags.get('extentlog:disk')!, /^sha256:/);
  await ebsTarget.close();
});

test('a restarted epoch resumes from its staging; a completed one is not written again', async (t) => {
  const fixture = await startEmulator(t);
  const model = path.join(fixture.dir.path, 'model.img');
  await createImage(model);
  const staging = path.join(fixture.dir.path, 'staging');
  const before = target(fixture, staging);
  const disk = await before.openDisk(DISK);
  const seventh = begin(7, null);
  await disk.beginEpoch(seventh);
  await applyBoth(disk, model, [write(10 * BLOCK, 2 * BLOCK, 1), write(40 * BLOCK + 3, 7, 2)]);
  await disk.flush(); // what the replay engine committed offsets for
  await disk.close();
  await before.close();

  const after = target(fixture, staging);
  const resumed = await after.openDisk(DISK);
  await resumed.beginEpoch(seventh);
  await applyBoth(resumed, model, [write(41 * BLOCK, 100, 3)]);
  const location = await commit(resumed, 7);
  assert.equal(await readBackSha(after, 7, location.location), await sha256OfSparseFile(model));

  const snapshotsBefore = fixture.aws.snapshots().length;
  const again = await after.openDisk(DISK);
  await again.beginEpoch(seventh);
  await again.apply(write(0, 100, 9));
  assert.deepEqual(await commit(again, 7), location, 'the completed snapshot is the restore point');
  assert.equal(fixture.aws.snapshots().length, snapshotsBefore);
  await after.close();
});

test('an incremental epoch whose base snapshot was deleted is refused with a clear error', async (t) => {
  const fixture = await startEmulator(t);
  const ebsTarget = target(fixture, path.join(fixture.dir.path, 'staging'));
  const disk = await ebsTarget.openDisk(DISK);
  await disk.beginEpoch(begin(1, null));
  await disk.apply(write(0, BLOCK, 1));
  const first = await commit(disk, 1);
  fixture.aws.deleteSnapshot(first.location!);
  await assert.rejects(
    disk.beginEpoch(begin(2, 1)),
    (error: unknown) =>
      error instanceof TargetError &&
      error.code === 'EXTENTLOG_ERR_TARGET_BASE_MISSING' &&
      error.retriable === false &&
      /re-baseline/.test(error.message),
  );
  await ebsTarget.close();
});

test('throttled and failing writes are retried; an expired session token stops the disk', async (t) => {
  const { fixture, model, ebsTarget, disk } = await openTestDisk(t);
  fixture.aws.setFaults({ throttleEvery: 3, unavailableEvery: 7 });
  await disk.beginEpoch(begin(1, null));
  const extents = Array.from({ length: 24 }, (_, index) =>
    write(index * 2 * BLOCK, BLOCK + 999, index),
  );
  await applyBoth(disk, model, extents);
  const first = await commit(disk, 1);
  assert.ok(fixture.aws.faults.injected.throttle > 5);
  fixture.aws.setFaults({});
  assert.equal(await readBackSha(ebsTarget, 1, first.location), await sha256OfSparseFile(model));

  fixture.aws.expireSessionToken();
  await assert.rejects(
    disk.beginEpoch(begin(2, 1)),
    (error: unknown) =>
      error instanceof TargetError && error.retriable === false && /expired/.test(error.message),
  );
  await ebsTarget.close();
});
