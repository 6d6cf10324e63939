import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { TargetError } from '../../consumers/errors.js';
import { createFileTarget, type FileTargetOptions } from '../../consumers/file/file-target.js';
import { pathTemplate } from '../../consumers/file/path-template.js';
import type {
  ApplyExtent,
  EpochBegin,
  TargetDisk,
  TargetDiskInfo,
} from '../../consumers/target.js';
import { patternBytes, sha256OfFile } from '../support/image-files.js';
import { attachLoopDevice, type LoopDevice } from '../support/loop-device.js';
import { silentLogger } from '../support/silent-logger.js';
import { makeTempDir } from '../support/temp-dir.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const DISK_BYTES = 8 * MiB;

let tmp: { dir: string; remove: () => Promise<void> };
before(async () => {
  tmp = await makeTempDir('file-target');
});
after(async () => {
  await tmp.remove();
});

function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function begin(mode: EpochBegin['mode'], diskSizeBytes: number, epoch = 1): EpochBegin {
  return { epoch, mode, diskSizeBytes, baseEpoch: null, sourceReference: `ref-${epoch}` };
}

function write(offsetBytes: number, data: Buffer): ApplyExtent {
  return { offsetBytes, lengthBytes: data.length, op: 'WRITE', data };
}

function zero(op: 'ZERO' | 'DISCARD', offsetBytes: number, lengthBytes: number): ApplyExtent {
  return { offsetBytes, lengthBytes, op, data: null };
}

/** What the disk holds after the extents: computed without the target's code. */
function expectedImage(sizeBytes: number, extents: readonly ApplyExtent[], base?: Buffer) {
  const image = Buffer.alloc(sizeBytes);
  base?.copy(image, 0, 0, Math.min(base.length, sizeBytes));
  for (const extent of extents)
    if (extent.data) extent.data.copy(image, extent.offsetBytes);
    else image.fill(0, extent.offsetBytes, extent.offsetBytes + extent.lengthBytes);
  return image;
}

/** A mix of everything: gathered 4 KiB writes, a large write, unaligned zeroing, discards. */
function sampleExtents(): ApplyExtent[] {
  const extents: ApplyExtent[] = [];
  for (let block = 0; block < 100; block++)
    extents.push(write(block * 4 * KiB, patternBytes(4 * KiB, block)));
  extents.push(write(1 * MiB, patternBytes(2 * MiB, 200)));
  extents.push(write(3 * MiB + 7, patternBytes(1000, 201))); // unaligned
  extents.push(zero('ZERO', 1 * MiB + 512, 64 * KiB + 100)); // unaligned, inside the large write
  extents.push(zero('DISCARD', 2 * MiB, 256 * KiB));
  extents.push(write(2 * MiB + 4 * KiB, patternBytes(8 * KiB, 202))); // over the discard
  extents.push(zero('ZERO', 40 * KiB, 8 * KiB)); // inside the gathered writes
  extents.push(write(DISK_BYTES - 10, patternBytes(10, 203))); // the disk's last bytes
  return extents;
}

function disk(diskId: string, sizeBytes = DISK_BYTES): TargetDiskInfo {
  return { feed: 'feed-a', diskId, sizeBytes, blockSizeBytes: 4096 };
}

function target(overrides: Partial<FileTargetOptions> = {}) {
  return createFileTarget({
    pathFor: pathTemplate(path.join(tmp.dir, '{feed}', '{disk}.img')),
    logger: silentLogger,
    ...overrides,
  });
}

async function applyAll(targetDisk: TargetDisk, extents: readonly ApplyExtent[]) {
  for (const extent of extents) await targetDisk.apply(extent);
  await targetDisk.flush();
}

describe('file target on an image file', () => {
  test('WRITE, ZERO and DISCARD leave exactly the expected image, and re-applying is harmless', async () => {
    const fileTarget = target();
    const targetDisk = await fileTarget.openDisk(disk('vm-1/scsi0:0'));
    const imagePath = path.join(tmp.dir, 'feed-a', 'vm-1%2Fscsi0%3A0.img');
    await targetDisk.beginEpoch(begin('FULL', DISK_BYTES));
    const extents = sampleExtents();
    await applyAll(targetDisk, extents);
    const expected = sha256(expectedImage(DISK_BYTES, extents));
    assert.equal(await sha256OfFile(imagePath), expected);

    // The replay engine re-applies from the last committed offset after a crash.
    await applyAll(targetDisk, extents.slice(50));
    await applyAll(targetDisk, extents);
    assert.equal(await sha256OfFile(imagePath), expected);
    assert.deepEqual(
      await targetDisk.commitEpoch({
        epoch: 1,
        extentCount: extents.length,
        bytes: 0,
        digest: '',
        sourceReference: 'ref-1',
        committedAtMs: 0,
      }),
      { location: imagePath },
    );
    await fileTarget.close();
    await assert.rejects(targetDisk.flush(), { code: 'EXTENTLOG_ERR_TARGET_CLOSED' });
  });

  test('ZERO punches real holes; write-zeros keeps the blocks allocated', async () => {
    for (const zeroing of ['punch-hole', 'write-zeros'] as const) {
      const fileTarget = target({ zeroing });
      const targetDisk = await fileTarget.openDisk(disk(`holes-${zeroing}`));
      const imagePath = path.join(tmp.dir, 'feed-a', `holes-${zeroing}.img`);
      await targetDisk.beginEpoch(begin('FULL', DISK_BYTES));
      await applyAll(targetDisk, [write(0, patternBytes(4 * MiB, 7))]);
      const written = (await stat(imagePath)).blocks;
      await applyAll(targetDisk, [zero('ZERO', 1 * MiB, 2 * MiB)]);
      const after = (await stat(imagePath)).blocks;
      const freedBytes = (written - after) * 512;
      if (zeroing === 'punch-hole') assert.equal(freedBytes, 2 * MiB);
      else assert.equal(freedBytes, 0);
      const image = await readFile(imagePath);
      assert.ok(image.subarray(1 * MiB, 3 * MiB).equals(Buffer.alloc(2 * MiB)));
      await fileTarget.close();
    }
  });

  test('a larger epoch grows the image, a FULL on a smaller disk shrinks it, an INCREMENTAL may not', async () => {
    const fileTarget = target();
    const targetDisk = await fileTarget.openDisk(disk('sizes', 1 * MiB));
    const imagePath = path.join(tmp.dir, 'feed-a', 'sizes.img');
    assert.equal((await stat(imagePath)).size, 1 * MiB);
    await targetDisk.beginEpoch(begin('INCREMENTAL', 3 * MiB));
    assert.equal((await stat(imagePath)).size, 3 * MiB);
    await applyAll(targetDisk, [write(3 * MiB - 4096, patternBytes(4096, 1))]);

    const refused = await targetDisk
      .beginEpoch(begin('INCREMENTAL', 2 * MiB, 2))
      .catch((error: unknown) => error);
    assert.ok(refused instanceof TargetError);
    assert.equal(refused.code, 'EXTENTLOG_ERR_TARGET_SHRINK');
    assert.match(
      refused.message,
      /for a disk of 2097152 bytes, but .*sizes\.img holds 3145728 bytes/,
    );

    await targetDisk.beginEpoch(begin('FULL', 2 * MiB, 3));
    assert.equal((await stat(imagePath)).size, 2 * MiB);
    await assert.rejects(targetDisk.apply(write(2 * MiB - 100, patternBytes(200, 2))), {
      code: 'EXTENTLOG_ERR_TARGET_BAD_EXTENT',
    });
    await assert.rejects(
      targetDisk.apply({ offsetBytes: 0, lengthBytes: 10, op: 'WRITE', data: Buffer.alloc(9) }),
      /carries 9 data bytes for a length of 10/,
    );
    await fileTarget.close();
  });

  test('existing data outside the extents is kept; a missing path is refused without createFiles', async () => {
    const existing = patternBytes(DISK_BYTES, 5);
    const imagePath = path.join(tmp.dir, 'existing.img');
    await writeFile(imagePath, existing);
    const fileTarget = target({ pathFor: () => imagePath, createFiles: false });
    const targetDisk = await fileTarget.openDisk(disk('existing'));
    const extents = [write(4096, patternBytes(4096, 6)), zero('ZERO', 1 * MiB, 4096)];
    await applyAll(targetDisk, extents);
    assert.equal(
      await sha256OfFile(imagePath),
      sha256(expectedImage(DISK_BYTES, extents, existing)),
    );
    await fileTarget.close();

    const missing = target({
      pathFor: () => path.join(tmp.dir, 'nope', 'x.img'),
      createFiles: false,
    });
    await assert.rejects(missing.openDisk(disk('missing')), {
      code: 'EXTENTLOG_ERR_TARGET_NOT_FOUND',
    });
  });
});

describe('path templates', () => {
  test('placeholders expand to encoded, contained names', () => {
    const pathFor = pathTemplate('/var/lib/extentlog/{feed}/{disk}.img');
    assert.equal(pathFor(disk('vm-42/scsi0:1')), '/var/lib/extentlog/feed-a/vm-42%2Fscsi0%3A1.img');
    assert.equal(pathTemplate('/t/{disk}')({ ...disk('..'), feed: '.' }), '/t/%2E%2E');
    assert.throws(() => pathTemplate('/t/{feed}/{disks}.img'), /unknown placeholder \{disks\}/);
    assert.throws(() => pathTemplate('/t/{feed}.img'), /no \{disk\} placeholder/);
  });
});

describe('file target on a block device', () => {
  const loops: LoopDevice[] = [];
  after(async () => {
    for (const loop of loops) await loop.detach();
  });

  test('applies extents with BLKZEROOUT and BLKDISCARD and refuses a disk larger than the device', async () => {
    const backing = path.join(tmp.dir, 'loop-target.img');
    const garbage = patternBytes(DISK_BYTES, 9);
    await writeFile(backing, garbage);
    const loop = await attachLoopDevice(backing);
    loops.push(loop);
    const fileTarget = target({ pathFor: () => loop.device, createFiles: false });

    const tooLarge = await fileTarget
      .openDisk(disk('big', DISK_BYTES + 4096))
      .catch((error: unknown) => error);
    assert.ok(tooLarge instanceof TargetError);
    assert.equal(tooLarge.code, 'EXTENTLOG_ERR_TARGET_TOO_SMALL');
    assert.ok(tooLarge.message.includes(`${DISK_BYTES + 4096} bytes`));
    assert.ok(tooLarge.message.includes(`only ${DISK_BYTES} bytes`));
    assert.ok(tooLarge.message.includes(loop.device));

    const targetDisk = await fileTarget.openDisk(disk('dev'));
    await targetDisk.beginEpoch(begin('FULL', DISK_BYTES));
    const extents = sampleExtents();
    await applyAll(targetDisk, extents);
    // A loop device's discard punches a hole in its backing file: it reads back as zeros.
    assert.equal(
      await sha256OfFile(loop.device),
      sha256(expectedImage(DISK_BYTES, extents, garbage)),
    );
    await assert.rejects(targetDisk.beginEpoch(begin('INCREMENTAL', DISK_BYTES * 2, 2)), {
      code: 'EXTENTLOG_ERR_TARGET_TOO_SMALL',
    });
    await fileTarget.close();
  });
});
