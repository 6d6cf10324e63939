/**
 * A QEMU feed whose NBD server dies in the middle of a read: the image's export is put
 * behind nbdkit (nbd plugin, log and delay filters), which is killed by its PID once reads
 * have reached it. The cycle fails with a retriable disconnection, its epoch never commits
 * (no SyncCommit in the log), the bitmaps are as before, and the next cycle — a FULL,
 * because the failed one was — converges the target on the image.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { parseConfig } from '../../bin/config/load-config.js';
import { startRuntime } from '../../bin/runtime.js';
import type { NbdError } from '../../producers/nbd/errors.js';
import { startQemuNbdExport, type StartImageExport } from '../../producers/qemu/image-view.js';
import { createQemuSource } from '../../producers/qemu/qemu-source.js';
import { eventually } from '../support/eventually.js';
import { feedRecords } from '../support/feed-records.js';
import { sha256OfFile } from '../support/image-files.js';
import { startNbdkit, type RunningNbdServer } from '../support/nbd-servers.js';
import { imageBitmaps, imageSha256, qemuImg, qemuIo } from '../support/qemu-images.js';
import { silentLogger } from '../support/silent-logger.js';
import { fileTargetEntry } from '../support/spine-configs.js';
import { tempDir } from '../support/temp-dir.js';

const MiB = 1024 * 1024;

test('an NBD server killed mid-read: the cycle fails clearly, nothing is committed, the next converges', async (t) => {
  const dir = await tempDir(t, 'e2e-qemu-faults');
  const image = path.join(dir.path, 'vm.qcow2');
  await qemuImg('create', '-q', '-f', 'qcow2', image, String(48 * MiB));
  await qemuIo(image, ['write -P 0x11 0 8M', 'write -P 0x22 20M 8M']);
  const logFile = path.join(dir.path, 'nbdkit.log');
  let front: RunningNbdServer | null = null;
  let exports = 0;
  const flakyExport: StartImageExport = async (request) => {
    const inner = await startQemuNbdExport(request);
    if (++exports > 1) return inner;
    const server = await startNbdkit((fn) => dir.beforeRemoval(fn), {
      dir: dir.path,
      args: [
        '--filter=log',
        '--filter=delay',
        'nbd',
        `socket=${(inner.address as { socketPath: string }).socketPath}`,
        `export=${inner.exportName}`,
        `logfile=${logFile}`,
        'delay-read=30',
      ],
    });
    front = server;
    return {
      address: server.address,
      exportName: '',
      stop: async () => {
        await server.stop();
        await inner.stop();
      },
    };
  };

  const config = parseConfig(
    {
      dataDir: path.join(dir.path, 'data'),
      feeds: [
        {
          name: 'vm1',
          source: { type: 'qemu', disks: [{ id: 'disk-0', image }] },
          heartbeatIntervalMs: 0,
        },
      ],
      targets: [fileTargetEntry('mirror', ['vm1'], path.join(dir.path, 'mirror', '{disk}.img'))],
    },
    'test config',
  );
  const runtime = await startRuntime(config, silentLogger, {
    decorateSource: () =>
      createQemuSource({
        disks: [{ diskId: 'disk-0', image }],
        workDir: path.join(dir.path, 'work'),
        startImageExport: flakyExport,
        logger: silentLogger,
      }),
  });
  dir.beforeRemoval(() => runtime.close());
  const feed = runtime.feeds.get('vm1')!;

  const failed = feed.syncNow().then(
    () => null,
    (error: NbdError) => error,
  );
  await eventually('reads at the NBD server', async () =>
    / Read /.test(await readFile(logFile, 'utf8').catch(() => '')) ? true : undefined,
  );
  await front!.process.kill();
  const error = await failed;
  assert.equal(error?.code, 'EXTENTLOG_ERR_NBD_DISCONNECTED');
  assert.equal(error.retriable, true);
  const status = feed.status().disks[0]!;
  assert.equal(status.phase, 'failed');
  assert.equal(status.lastError?.code, 'EXTENTLOG_ERR_NBD_DISCONNECTED');
  const records = await feedRecords(runtime, 'vm1');
  assert.deepEqual(
    records
      .filter((record) => record.type !== 'extent')
      .map((record) => [record.type, record.epoch]),
    [['sync-begin', 1]],
    'epoch 1 began and never committed',
  );
  assert.deepEqual(await imageBitmaps(image), [], 'the failed FULL left no bitmap');

  const [retry] = await feed.syncNow();
  assert.equal(retry?.mode, 'FULL');
  assert.match(retry?.rebaselineReason ?? '', /epoch 1 was a FULL sync that did not commit/);
  const epoch = retry!.committed!.epoch;
  await eventually(
    `restore point of epoch ${epoch}`,
    () =>
      (runtime.replays.get('mirror')!.status().disks[0]?.lastRestorePoint?.epoch ?? 0) >= epoch
        ? true
        : undefined,
    60_000,
  );
  const mirror = path.join(dir.path, 'mirror', 'disk-0.img');
  assert.equal(
    await sha256OfFile(mirror),
    await imageSha256(image, path.join(dir.path, 'expected.raw')),
  );
});
