/**
 * The image source's side of replication, next to the tools an operator would use instead:
 * - a FULL cycle (SEEK_DATA/SEEK_HOLE, read, XXH3-128 of every block, hash file written) of a
 *   half-allocated image vs `cp --sparse=always` of the same image;
 * - an INCREMENTAL hash compare with 1 % of 4 KiB blocks changed vs
 *   `rsync --inplace --no-whole-file -I -B 4096` bringing a copy up to date.
 * Both sides read from a warm page cache. Times are medians of three runs (rsync: one run,
 * as a second would find nothing to do).
 */
import { execFile } from 'node:child_process';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { pino } from 'pino';
import { createImageSource } from '../../../producers/image/image-source.js';
import type { ChangeSource, CommittedReference, DiskInfo } from '../../../producers/source.js';
import { drainChangeSet } from '../../support/drain-change-set.js';
import { changeOnePercent, makeImage, RSYNC_DELTA, rsyncBlockDelta } from '../bench-images.js';
import {
  MiB,
  median,
  seconds,
  timeRow,
  type BenchContext,
  type BenchRow,
  type BenchSuite,
} from '../harness.js';

const run = promisify(execFile);
const BLOCK = 4096;

/** The median of `runs` timings of `operation`. */
async function medianSeconds(runs: number, operation: () => Promise<unknown>): Promise<number> {
  const times: number[] = [];
  for (let index = 0; index < runs; index++) times.push(await seconds(operation));
  return median(times);
}

async function cycle(source: ChangeSource, disk: DiskInfo, since: CommittedReference | null) {
  const changeSet = await source.open(disk, since);
  const extents = await drainChangeSet(changeSet);
  return { changeSet, extents };
}

export const suite: BenchSuite = {
  name: 'image-source',
  async run({ workDir, scale, log }: BenchContext): Promise<BenchRow[]> {
    const sizeBytes = Math.round(2048 * scale) * MiB;
    const imagePath = path.join(workDir, 'disk.img');
    const copyPath = path.join(workDir, 'copy.img');
    log(`building a ${sizeBytes / MiB} MiB half-allocated image`);
    await makeImage(imagePath, sizeBytes);
    const source = createImageSource({
      disks: [{ diskId: 'bench', path: imagePath }],
      stateDir: path.join(workDir, 'state'),
      logger: pino({ level: 'silent' }),
    });
    const [disk] = await source.disks();
    if (disk === undefined) throw new Error('no disk');

    log('FULL cycles vs cp --sparse=always');
    const cpSeconds = await medianSeconds(3, async () => {
      await rm(copyPath, { force: true });
      await run('cp', ['--sparse=always', imagePath, copyPath]);
    });
    let committed: CommittedReference | null = null;
    const fullSeconds = await medianSeconds(3, async () => {
      const { changeSet } = await cycle(source, disk, null);
      await changeSet.commit();
      committed = { epoch: 1, reference: changeSet.reference };
    });

    const changedBlocks = await changeOnePercent(imagePath, sizeBytes);
    log(`INCREMENTAL with ${changedBlocks} changed blocks vs rsync`);
    const incrementalSeconds = await medianSeconds(3, async () => {
      const { changeSet, extents } = await cycle(source, disk, committed);
      const bytes = extents.reduce((sum, extent) => sum + extent.lengthBytes, 0);
      if (changeSet.mode !== 'INCREMENTAL' || bytes !== changedBlocks * BLOCK)
        throw new Error(`incremental found ${bytes} bytes, expected ${changedBlocks * BLOCK}`);
      await changeSet.abort('benchmark: measure again against the same base');
    });
    const rsyncSeconds = await seconds(() => rsyncBlockDelta(imagePath, copyPath));
    await source.close();

    const label = `${sizeBytes / MiB} MiB, half allocated`;
    return [
      timeRow(
        `FULL read + XXH3-128 + hash file, ${label}`,
        fullSeconds,
        {
          name: 'cp --sparse=always',
          seconds: cpSeconds,
        },
        { atLeast: 0.5 },
      ),
      timeRow(
        `INCREMENTAL hash compare, 1 % of 4 KiB blocks changed, ${label}`,
        incrementalSeconds,
        {
          name: RSYNC_DELTA,
          seconds: rsyncSeconds,
        },
        { atLeast: 1 },
      ),
    ];
  },
};
