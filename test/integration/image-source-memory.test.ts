/**
 * The image source's memory does not grow with the disk: an incremental over a 4 GiB image,
 * read in full (hole detection off, so every window is really read and hashed), keeps its
 * resident set within a few windows of where it started.
 */
import assert from 'node:assert/strict';
import { truncate, writeFile } from 'node:fs/promises';
import path from 'node:path';
import process from 'node:process';
import { after, before, test } from 'node:test';
import { createImageSource } from '../../producers/image/image-source.js';
import type { ChangeSet } from '../../producers/source.js';
import { drainChangeSet } from '../support/drain-change-set.js';
import { patternBytes, writeAt } from '../support/image-files.js';
import { silentLogger } from '../support/silent-logger.js';
import { makeTempDir } from '../support/temp-dir.js';

const MiB = 1024 * 1024;
const DISK_BYTES = 4096 * MiB;

let tmp: { dir: string; remove: () => Promise<void> };
before(async () => {
  tmp = await makeTempDir('image-source-memory');
});
after(async () => {
  await tmp.remove();
});

/** Drains a cycle while sampling RSS: returns the growth after the first tenth of the disk. */
async function drainMeasuringRss(
  cycle: ChangeSet,
): Promise<{ growthBytes: number; extents: number }> {
  let baselineBytes = 0;
  let peakBytes = 0;
  let extents = 0;
  for await (const item of cycle.changes()) {
    if (item.kind !== 'extent') continue;
    extents++;
    if (item.op === 'WRITE') await cycle.reader.read(item.offsetBytes, item.lengthBytes);
    const rssBytes = process.memoryUsage.rss();
    if (item.offsetBytes < DISK_BYTES / 10) baselineBytes = Math.max(baselineBytes, rssBytes);
    else peakBytes = Math.max(peakBytes, rssBytes);
  }
  return { growthBytes: peakBytes - baselineBytes, extents };
}

test('an incremental over a 4 GiB image runs in bounded memory', async () => {
  const imagePath = path.join(tmp.dir, 'big.img');
  await writeFile(imagePath, '');
  await truncate(imagePath, DISK_BYTES);
  for (let offsetBytes = 0; offsetBytes < DISK_BYTES; offsetBytes += 64 * MiB)
    await writeAt(imagePath, offsetBytes, patternBytes(MiB, offsetBytes / MiB));
  const options = {
    disks: [{ diskId: 'big', path: imagePath }],
    stateDir: path.join(tmp.dir, 'state'),
    logger: silentLogger,
  };
  const full = await createImageSource(options).open(
    { diskId: 'big', sizeBytes: DISK_BYTES, blockSizeBytes: 4096 },
    null,
  );
  await drainChangeSet(full);
  await full.commit();

  // One changed block in every 64 MiB: an extent in every tenth of the disk to sample at.
  for (let offsetBytes = 32 * MiB; offsetBytes < DISK_BYTES; offsetBytes += 64 * MiB)
    await writeAt(imagePath, offsetBytes, patternBytes(4096, 1000 + offsetBytes / MiB));
  const incremental = await createImageSource({ ...options, detectHoles: false }).open(
    { diskId: 'big', sizeBytes: DISK_BYTES, blockSizeBytes: 4096 },
    { epoch: 1, reference: full.reference },
  );
  assert.equal(incremental.mode, 'INCREMENTAL');
  const { growthBytes, extents } = await drainMeasuringRss(incremental);
  await incremental.commit();
  assert.equal(extents, DISK_BYTES / (64 * MiB));
  // 4 GiB went through 8 MiB windows; holding on to them would grow by gigabytes.
  assert.ok(growthBytes < 64 * MiB, `RSS grew by ${(growthBytes / MiB).toFixed(1)} MiB`);
});
