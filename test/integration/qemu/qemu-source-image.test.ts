/**
 * The QEMU source on qcow2 images no VM runs (qemu-img bitmaps, qemu-nbd exports): FULL
 * then INCREMENTAL cycles replayed into a replica that ends equal to `qemu-img convert -O
 * raw` of the image; INCREMENTAL yields exactly the clusters qemu-io wrote; abort keeps
 * the old bitmap; a deleted or inconsistent bitmap is a FULL re-baseline that says why.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, test } from 'node:test';
import { createQemuSource } from '../../../producers/qemu/qemu-source.js';
import type { ChangeSet, ChangeSource, CommittedReference } from '../../../producers/source.js';
import { bytesByOp, drainChangeSet } from '../../support/drain-change-set.js';
import { sha256OfFile } from '../../support/image-files.js';
import { startQemuNbd } from '../../support/nbd-servers.js';
import { imageBitmaps, imageSha256, qemuImg, qemuIo } from '../../support/qemu-images.js';
import { silentLogger } from '../../support/silent-logger.js';
import { makeTempDir } from '../../support/temp-dir.js';

const run = promisify(execFile);
const KiB = 1024;
const MiB = 1024 * KiB;
const SIZE = 32 * MiB;

let tmp: { dir: string; remove: () => Promise<void> };
const cleanups: (() => Promise<unknown> | unknown)[] = [];
before(async () => {
  tmp = await makeTempDir('qemu-image');
});
after(async () => {
  for (const fn of cleanups.reverse()) await fn();
  await tmp.remove();
});

let caseNumber = 0;
async function setUp() {
  const name = `case-${++caseNumber}`;
  const image = path.join(tmp.dir, `${name}.qcow2`);
  const replica = path.join(tmp.dir, `${name}.replica`);
  await qemuImg('create', '-q', '-f', 'qcow2', image, String(SIZE));
  await qemuIo(image, ['write -P 0x11 0 2M', 'write -P 0x22 10M 1M', 'write -z 12M 1M']);
  // A stale replica: only what the cycles write can make it equal.
  await writeFile(replica, Buffer.alloc(SIZE, 0x77));
  const source = createQemuSource({
    disks: [{ diskId: 'vm-1/disk-0', image }],
    workDir: path.join(tmp.dir, `${name}-work`),
    logger: silentLogger,
  });
  cleanups.push(() => source.close());
  return { image, replica, source };
}

async function cycle(
  source: ChangeSource,
  since: CommittedReference | null,
  replica: string,
): Promise<{ changeSet: ChangeSet; extents: Awaited<ReturnType<typeof drainChangeSet>> }> {
  const [disk] = await source.disks();
  const changeSet = await source.open(disk!, since);
  const extents = await drainChangeSet(changeSet, replica);
  return { changeSet, extents };
}

async function assertEqual(image: string, replica: string) {
  assert.equal(await sha256OfFile(replica), await imageSha256(image, `${replica}.expected`));
}

async function ourBitmaps(image: string): Promise<string[]> {
  return (await imageBitmaps(image))
    .map((bitmap) => bitmap.name)
    .filter((name) => name.startsWith('extentlog-'));
}

test('FULL, then INCREMENTAL of exactly the written clusters; old bitmaps go at commit', async () => {
  const { image, replica, source } = await setUp();
  const full = await cycle(source, null, replica);
  assert.equal(full.changeSet.mode, 'FULL');
  assert.equal(full.changeSet.disk.sizeBytes, SIZE);
  assert.equal(full.changeSet.disk.blockSizeBytes, 64 * KiB);
  const totals = bytesByOp(full.extents);
  assert.equal(totals.WRITE, 3 * MiB, 'only allocated data is read');
  assert.equal(totals.WRITE + totals.ZERO, SIZE, 'the FULL covers the whole disk');
  await full.changeSet.commit();
  await assertEqual(image, replica);
  const [first] = await ourBitmaps(image);
  assert.match(full.changeSet.reference, new RegExp(`^qemu-bitmap:${first}@${SIZE}$`));

  await qemuIo(image, ['write -P 0x33 1M 4k', 'write -P 0x44 20M 128k', 'write -z 10M 64k']);
  const since = { epoch: 1, reference: full.changeSet.reference };
  const incremental = await cycle(source, since, replica);
  assert.equal(incremental.changeSet.mode, 'INCREMENTAL');
  assert.equal(incremental.changeSet.baseReference, full.changeSet.reference);
  assert.deepEqual(
    incremental.extents.map((extent) => [extent.offsetBytes, extent.lengthBytes, extent.op]),
    [
      [MiB, 64 * KiB, 'WRITE'],
      [10 * MiB, 64 * KiB, 'ZERO'],
      [20 * MiB, 128 * KiB, 'WRITE'],
    ],
  );
  await incremental.changeSet.commit();
  await assertEqual(image, replica);
  const remaining = await ourBitmaps(image);
  assert.equal(remaining.length, 1);
  assert.notEqual(remaining[0], first);
});

test('an aborted cycle keeps the old bitmap: the next cycle reads its changes again', async () => {
  const { image, replica, source } = await setUp();
  const full = await cycle(source, null, replica);
  await full.changeSet.commit();
  const since = { epoch: 1, reference: full.changeSet.reference };
  await qemuIo(image, ['write -P 0x55 5M 64k']);
  const aborted = await cycle(source, since, replica);
  await aborted.changeSet.abort(new Error('publishing failed'));
  assert.deepEqual(await ourBitmaps(image), [full.changeSet.reference.slice(12).split('@')[0]]);
  await qemuIo(image, ['write -P 0x66 7M 64k']);
  const again = await cycle(source, since, replica);
  assert.equal(again.changeSet.mode, 'INCREMENTAL');
  assert.deepEqual(
    again.extents.map((extent) => extent.offsetBytes),
    [5 * MiB, 7 * MiB],
  );
  await again.changeSet.commit();
  await assertEqual(image, replica);
});

test('a deleted bitmap is a FULL re-baseline that says so', async () => {
  const { image, replica, source } = await setUp();
  const full = await cycle(source, null, replica);
  await full.changeSet.commit();
  const [bitmap] = await ourBitmaps(image);
  await qemuImg('bitmap', '--remove', image, bitmap!);
  await qemuIo(image, ['write -P 0x77 3M 64k']);
  const next = await cycle(source, { epoch: 1, reference: full.changeSet.reference }, replica);
  assert.equal(next.changeSet.mode, 'FULL');
  assert.match(
    next.changeSet.rebaselineReason ?? '',
    new RegExp(`dirty bitmap ${bitmap} of epoch 1 is gone from image .*; reading the whole disk`),
  );
  await next.changeSet.commit();
  await assertEqual(image, replica);
});

test('a bitmap left inconsistent by a crash is a FULL re-baseline and is removed', async () => {
  const { image, replica, source } = await setUp();
  const full = await cycle(source, null, replica);
  await full.changeSet.commit();
  // qemu-io's abort command kills it with the image open for writing: bitmaps stay 'in-use'.
  await run('qemu-io', ['-f', 'qcow2', '-c', 'write -P 0x78 6M 64k', '-c', 'abort', image]).catch(
    () => undefined,
  );
  const flags = (await imageBitmaps(image)).map((bitmap) => bitmap.flags);
  assert.ok(
    flags.every((list) => list.includes('in-use')),
    `bitmaps are in use: ${JSON.stringify(flags)}`,
  );
  const next = await cycle(source, { epoch: 1, reference: full.changeSet.reference }, replica);
  assert.equal(next.changeSet.mode, 'FULL');
  assert.match(next.changeSet.rebaselineReason ?? '', /is marked inconsistent/);
  await next.changeSet.commit();
  await assertEqual(image, replica);
  const after = await imageBitmaps(image);
  assert.equal(after.length, 1);
  assert.ok(!after[0]!.flags.includes('in-use'));
});

test('an image a running process holds is refused with the reason', async () => {
  const { image, replica, source } = await setUp();
  const holder = await startQemuNbd((fn) => cleanups.push(fn), {
    image,
    format: 'qcow2',
    readOnly: false,
    dir: tmp.dir,
  });
  await assert.rejects(cycle(source, null, replica), (error: Error & { code?: string }) => {
    assert.equal(error.code, 'EXTENTLOG_ERR_SOURCE_TOOL');
    assert.match(error.message, /lock.*the image is in use/s);
    return true;
  });
  await holder.stop();
});

test('an image that is not qcow2 is a configuration error', async () => {
  const image = path.join(tmp.dir, 'plain.raw');
  await qemuImg('create', '-q', '-f', 'raw', image, '1M');
  const source = createQemuSource({
    disks: [{ diskId: 'raw', image }],
    workDir: path.join(tmp.dir, 'raw-work'),
    logger: silentLogger,
  });
  const [disk] = await source.disks();
  await assert.rejects(source.open(disk!, null), /persistent dirty bitmaps need qcow2/);
});
