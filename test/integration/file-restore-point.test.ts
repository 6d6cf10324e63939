/**
 * The file target hands back its restore point: the image as a disk to read, with its
 * holes reported (SEEK_DATA/SEEK_HOLE), and only the latest restore point.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { truncate } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { createFileTarget } from '../../consumers/file/file-target.js';
import { pathTemplate } from '../../consumers/file/path-template.js';
import type { DiskRange, RestorePointReader } from '../../consumers/target.js';
import { sha256OfDisk } from '../../bin/image-sha256.js';
import type { RestorePoint } from '../../schemas/restore-point.js';
import { patternBytes } from '../support/image-files.js';
import { silentLogger } from '../support/silent-logger.js';
import { tempDir } from '../support/temp-dir.js';

const MiB = 1024 * 1024;
const DISK_BYTES = 16 * MiB;

function point(epoch: number, diskSizeBytes = DISK_BYTES): RestorePoint {
  return {
    target: 'mirror',
    feed: 'vm1',
    disk: 'disk-0',
    epoch,
    sourceReference: `ref-${epoch}`,
    digest: '0'.repeat(64),
    diskSizeBytes,
    committedAtMs: 1,
    durableAtMs: 2,
    location: null,
  };
}

async function collect(ranges: AsyncIterable<DiskRange>): Promise<DiskRange[]> {
  const found: DiskRange[] = [];
  for await (const range of ranges) found.push(range);
  return found;
}

/** Replays two data regions into a fresh target image; returns the image's expected bytes. */
async function replicate(dir: string) {
  const target = createFileTarget({
    pathFor: pathTemplate(path.join(dir, '{feed}', '{disk}.img')),
    logger: silentLogger,
  });
  const expected = Buffer.alloc(DISK_BYTES);
  const disk = await target.openDisk({
    feed: 'vm1',
    diskId: 'disk-0',
    sizeBytes: DISK_BYTES,
    blockSizeBytes: 4096,
  });
  await disk.beginEpoch({
    epoch: 1,
    mode: 'FULL',
    diskSizeBytes: DISK_BYTES,
    baseEpoch: null,
    sourceReference: 'ref-1',
  });
  for (const [offsetBytes, data] of [
    [MiB, patternBytes(2 * MiB, 1)],
    [12 * MiB + 4096, patternBytes(5000, 2)],
  ] as const) {
    await disk.apply({ offsetBytes, lengthBytes: data.length, op: 'WRITE', data });
    data.copy(expected, offsetBytes);
  }
  await disk.flush();
  await disk.close();
  return { target, expected, imagePath: path.join(dir, 'vm1', 'disk-0.img') };
}

test('the latest restore point reads back as the image, holes reported as such', async (t) => {
  const dir = await tempDir(t, 'file-restore-point');
  const { target, expected } = await replicate(dir.path);
  t.after(() => target.close());
  const reader: RestorePointReader = await target.openRestorePoint!(point(1), point(1));
  t.after(() => reader.close());
  assert.equal(reader.sizeBytes, DISK_BYTES);
  assert.deepEqual(await reader.read(MiB - 10, 20), expected.subarray(MiB - 10, MiB + 10));
  assert.ok(reader.dataRanges, 'an image file reports its data ranges');
  const ranges = await collect(reader.dataRanges());
  const dataBytes = ranges.reduce((sum, range) => sum + range.endBytes - range.startBytes, 0);
  assert.ok(dataBytes < DISK_BYTES / 2, `the holes are skipped (${dataBytes} bytes of data)`);
  assert.ok(ranges.some((range) => range.startBytes <= MiB && range.endBytes >= 3 * MiB));
  assert.equal(
    await sha256OfDisk(reader),
    createHash('sha256').update(expected).digest('hex'),
    'the streamed sha256 over data and holes equals the sha256 of the bytes',
  );
  await assert.rejects(reader.read(DISK_BYTES - 1, 2), {
    code: 'EXTENTLOG_ERR_TARGET_READ',
    message: /outside the disk's 16777216 bytes/,
  });
});

test('an older epoch, or an image shorter than the disk, is refused', async (t) => {
  const dir = await tempDir(t, 'file-restore-point-refusals');
  const { target, imagePath } = await replicate(dir.path);
  t.after(() => target.close());
  await assert.rejects(target.openRestorePoint!(point(1), point(3)), {
    code: 'EXTENTLOG_ERR_TARGET_POINT_UNAVAILABLE',
    message: /holds only its latest restore point \(epoch 3\).*epoch 1 was overwritten/,
  });
  await truncate(imagePath, DISK_BYTES - 4096);
  await assert.rejects(target.openRestorePoint!(point(1), point(1)), {
    code: 'EXTENTLOG_ERR_TARGET_POINT_UNAVAILABLE',
    message: /holds 16773120 bytes, but the disk has 16777216/,
  });
});
