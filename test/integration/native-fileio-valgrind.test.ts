/** Leak run of the fileio addon: every call ~1000× under valgrind's memcheck. */
import { truncate, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { attachLoopDevice, type LoopDevice } from '../support/loop-device.js';
import { makeTempDir } from '../support/temp-dir.js';
import { assertClean, runUnderMemcheck } from '../support/valgrind.js';

const exercise = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '..',
  'support',
  'fileio-exercise.js',
);

let tmp: { dir: string; remove: () => Promise<void> };
let loop: LoopDevice | null = null;
before(async () => {
  tmp = await makeTempDir('fileio-valgrind');
});
after(async () => {
  await loop?.detach();
  await tmp.remove();
});

test('every fileio call, 1000 times, leaks nothing and touches no invalid memory', async () => {
  const backing = path.join(tmp.dir, 'device.img');
  await writeFile(backing, '');
  await truncate(backing, 1024 * 1024);
  loop = await attachLoopDevice(backing);
  const run = await runUnderMemcheck(
    exercise,
    ['1000', tmp.dir, loop?.device ?? ''],
    path.join(tmp.dir, 'valgrind.log'),
  );
  assertClean(run);
});
