/**
 * Leak run of the iscsi addon: every call, success and failure path, 12× under valgrind's
 * memcheck against a real tgtd (see test/support/iscsi-exercise.ts).
 */
import path from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { freePort, Tgtd } from '../../peers/tgtd.js';
import { createSparseFile } from '../../support/sparse-file.js';
import { makeTempDir } from '../../support/temp-dir.js';
import { assertClean, runUnderMemcheck } from '../../support/valgrind.js';

const exercise = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '..',
  '..',
  'support',
  'iscsi-exercise.js',
);
const PLAIN = 'iqn.2024-01.io.extentlog:valgrind-plain';
const CHAP_IQN = 'iqn.2024-01.io.extentlog:valgrind-chap';
const CHAP = { username: 'valgrind-user', secret: 'valgrind-secret-1' };

let tmp: { dir: string; remove: () => Promise<void> };
let tgtd: Tgtd | undefined;

before(async () => {
  tmp = await makeTempDir('iscsi-valgrind');
  tgtd = await Tgtd.start(tmp.dir);
  await createSparseFile(path.join(tmp.dir, 'plain.img'), 16 * 1024 * 1024);
  await createSparseFile(path.join(tmp.dir, 'chap.img'), 16 * 1024 * 1024);
  await tgtd.addTarget({
    tid: 1,
    iqn: PLAIN,
    luns: [{ lun: 1, backingPath: path.join(tmp.dir, 'plain.img'), thinProvisioning: true }],
  });
  await tgtd.addTarget({
    tid: 2,
    iqn: CHAP_IQN,
    luns: [{ lun: 1, backingPath: path.join(tmp.dir, 'chap.img') }],
    chap: CHAP,
  });
});

after(async () => {
  await tgtd?.stop();
  await tmp.remove();
});

test('every iscsi call and failure path, repeatedly, leaks nothing and touches no invalid memory', async () => {
  const run = await runUnderMemcheck(
    exercise,
    [
      '12',
      tgtd!.portal,
      PLAIN,
      CHAP_IQN,
      CHAP.username,
      CHAP.secret,
      `127.0.0.1:${await freePort()}`,
    ],
    path.join(tmp.dir, 'valgrind.log'),
  );
  assertClean(run);
});
