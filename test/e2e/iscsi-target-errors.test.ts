/**
 * One feed, six iSCSI targets on one tgtd: two replicate (one of them with mutual CHAP), and
 * four cannot — a wrong CHAP secret, a target IQN tgtd does not serve, a LUN smaller than the
 * disk, a portal nobody listens on. Each of the four shows a clear error in its status, and
 * the two good ones keep replicating cycle after cycle.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { parseConfig } from '../../bin/config/load-config.js';
import { startRuntime, type Runtime } from '../../bin/runtime.js';
import { freePort, Tgtd } from '../peers/tgtd.js';
import { eventually } from '../support/eventually.js';
import { patternBytes, sha256OfFile, writeAt } from '../support/image-files.js';
import { sha256OfLun } from '../support/iscsi-lun.js';
import { silentLogger } from '../support/silent-logger.js';
import { createSparseFile } from '../support/sparse-file.js';
import { tempDir } from '../support/temp-dir.js';

const MiB = 1024 * 1024;
const IQN = (name: string) => `iqn.2024-01.io.extentlog:e2e-${name}`;
const CHAP = { username: 'e2e-initiator', secret: 'e2e-initiator-secret' };
const TARGET_CHAP = { username: 'e2e-target', secret: 'e2e-target-secret-1' };

function diskStatus(runtime: Runtime, target: string) {
  return runtime.replays
    .get(target)!
    .status()
    .disks.find((entry) => entry.diskId === 'disk-0');
}

test('a wrong CHAP secret, an unknown IQN, a too small LUN and an unreachable portal each fail clearly while the other targets replicate', async (t) => {
  const dir = await tempDir(t, 'e2e-iscsi-errors');
  const tgtd = await Tgtd.start(dir.path);
  dir.beforeRemoval(() => tgtd.stop());
  const lun = async (name: string, sizeBytes: number) => {
    const file = path.join(dir.path, `${name}.img`);
    await createSparseFile(file, sizeBytes);
    return file;
  };
  await tgtd.addTarget({
    tid: 1,
    iqn: IQN('good'),
    luns: [{ lun: 1, backingPath: await lun('good', 32 * MiB), thinProvisioning: true }],
  });
  await tgtd.addTarget({
    tid: 2,
    iqn: IQN('mutual'),
    luns: [{ lun: 1, backingPath: await lun('mutual', 32 * MiB) }],
    chap: CHAP,
    mutualChap: TARGET_CHAP,
  });
  await tgtd.addTarget({
    tid: 3,
    iqn: IQN('chap'),
    luns: [{ lun: 1, backingPath: await lun('chap', 32 * MiB) }],
    chap: CHAP,
  });
  await tgtd.addTarget({
    tid: 4,
    iqn: IQN('small'),
    luns: [{ lun: 1, backingPath: await lun('small', 16 * MiB) }],
  });

  const secret = async (name: string, value: string) => {
    const file = path.join(dir.path, `${name}.secret`);
    await writeFile(file, `${value}\n`, { mode: 0o600 });
    return file;
  };
  const chap = { username: CHAP.username, secretFile: await secret('chap', CHAP.secret) };
  const sourcePath = path.join(dir.path, 'source.img');
  await createSparseFile(sourcePath, 32 * MiB);
  await writeAt(sourcePath, MiB, patternBytes(5 * MiB, 1));
  const iscsiTarget = (name: string, targetIqn: string, extra: Record<string, unknown> = {}) => ({
    type: 'iscsi',
    name,
    feeds: ['vm1'],
    portal: tgtd.portal,
    luns: [{ disk: 'disk-0', targetIqn, lun: 1 }],
    flushIntervalMs: 100,
    connectTimeoutMs: 2000,
    ...extra,
  });
  const config = parseConfig(
    {
      dataDir: path.join(dir.path, 'data'),
      feeds: [
        { name: 'vm1', source: { type: 'image', disks: [{ id: 'disk-0', path: sourcePath }] } },
      ],
      targets: [
        iscsiTarget('good', IQN('good')),
        iscsiTarget('mutual', IQN('mutual'), {
          chap,
          mutualChap: {
            username: TARGET_CHAP.username,
            secretFile: await secret('target', TARGET_CHAP.secret),
          },
        }),
        iscsiTarget('wrong-chap', IQN('chap'), {
          chap: { username: CHAP.username, secretFile: await secret('wrong', 'not-the-secret') },
        }),
        iscsiTarget('unknown-iqn', IQN('nobody-serves-this')),
        iscsiTarget('too-small', IQN('small')),
        iscsiTarget('unreachable', IQN('good'), { portal: `127.0.0.1:${await freePort()}` }),
      ],
    },
    'test config',
  );
  const runtime = await startRuntime(config, silentLogger);
  dir.beforeRemoval(() => runtime.close());
  const feed = runtime.feeds.get('vm1')!;

  const failures: [string, string, RegExp][] = [
    [
      'wrong-chap',
      'EXTENTLOG_ERR_TARGET_OPEN',
      /refused the login: authentication failure .*check the CHAP user name and secret/,
    ],
    [
      'unknown-iqn',
      'EXTENTLOG_ERR_TARGET_OPEN',
      /e2e-nobody-serves-this .*refused the login: target not found/,
    ],
    [
      'too-small',
      'EXTENTLOG_ERR_TARGET_TOO_SMALL',
      /disk disk-0 has 33554432 bytes but .*e2e-small LUN 1 .* has only 16777216 bytes/,
    ],
    [
      'unreachable',
      'EXTENTLOG_ERR_TARGET_OPEN',
      /iSCSI portal 127\.0\.0\.1:\d+ .*cannot be reached/,
    ],
  ];
  for (const cycle of [0, 1]) {
    if (cycle === 1) await writeAt(sourcePath, 20 * MiB + 100, patternBytes(MiB, 2));
    const [result] = await feed.syncNow();
    assert.ok(result?.committed);
    for (const good of ['good', 'mutual']) {
      await eventually(
        `${good} at epoch ${result.committed.epoch}`,
        () =>
          (diskStatus(runtime, good)?.lastRestorePoint?.epoch ?? 0) >= result.committed!.epoch
            ? true
            : undefined,
        60_000,
      );
      assert.equal(
        await sha256OfLun(
          {
            portal: tgtd.portal,
            targetIqn: IQN(good),
            lun: 1,
            ...(good === 'mutual' ? { chap: CHAP, targetChap: TARGET_CHAP } : {}),
          },
          32 * MiB,
        ),
        await sha256OfFile(sourcePath),
        `${good} equals the source after cycle ${cycle}`,
      );
    }
    for (const [name, code, message] of failures) {
      const error = await eventually(
        `${name} to report its error`,
        () => diskStatus(runtime, name)?.lastError ?? undefined,
        30_000,
      );
      assert.equal(error.code, code, `${name}: ${error.message}`);
      assert.match(error.message, message);
      assert.equal(diskStatus(runtime, name)?.lastRestorePoint, null);
    }
  }
});
