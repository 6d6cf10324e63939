/**
 * tgtd killed and restarted while a feed is being replayed into it. The iSCSI target
 * reconnects and re-issues what the target may have lost; the LUN converges to the source;
 * and, checked on the wire by a tap between initiator and target, no consumer offset commit
 * starts while an acknowledged write is not yet covered by a SYNCHRONIZE CACHE(16).
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { parseConfig } from '../../bin/config/load-config.js';
import { startRuntime } from '../../bin/runtime.js';
import { createIscsiTarget, lunTable } from '../../consumers/iscsi/iscsi-target.js';
import type { Replay } from '../../consumers/replay.js';
import type { LogClient } from '../../log/log-client.js';
import { Tgtd } from '../peers/tgtd.js';
import { eventually } from '../support/eventually.js';
import { patternBytes, sha256OfFile, writeAt } from '../support/image-files.js';
import { sha256OfLun } from '../support/iscsi-lun.js';
import { IscsiTap } from '../support/iscsi-tap.js';
import { silentLogger } from '../support/silent-logger.js';
import { startRuntimeReplay } from '../support/runtime-replay.js';
import { createSparseFile } from '../support/sparse-file.js';
import { tempDir } from '../support/temp-dir.js';

const MiB = 1024 * 1024;
const IQN = 'iqn.2024-01.io.extentlog:e2e-fault';
const DISK_BYTES = 128 * MiB;
const SYNCHRONIZE_CACHE_16 = 0x91;

/** The log client with every consumer offset commit marked on the tap's timeline first. */
function auditedLog(log: LogClient, tap: IscsiTap): LogClient {
  return {
    admin: log.admin,
    producer: (options) => log.producer(options),
    readRange: (options) => log.readRange(options),
    close: async () => undefined,
    async consumer(options) {
      const consumer = await log.consumer(options);
      return {
        run: (handlers) => consumer.run(handlers),
        pause: (partitions) => consumer.pause(partitions),
        resume: (partitions) => consumer.resume(partitions),
        seek: (position) => consumer.seek(position),
        stop: () => consumer.stop(),
        commit: async (offsets) => {
          tap.mark('commit', offsets);
          await consumer.commit(offsets);
        },
      };
    },
  };
}

function diskStatus(replay: Replay) {
  return replay.status().disks.find((entry) => entry.diskId === 'disk-0');
}

test('tgtd killed twice during replay: the target reconnects, commits never run ahead of SYNCHRONIZE CACHE, the LUN converges', async (t) => {
  const dir = await tempDir(t, 'e2e-iscsi-fault');
  const tgtd = await Tgtd.start(dir.path);
  dir.beforeRemoval(() => tgtd.stop());
  const lunFile = path.join(dir.path, 'lun.img');
  await createSparseFile(lunFile, DISK_BYTES);
  await tgtd.addTarget({
    tid: 1,
    iqn: IQN,
    luns: [{ lun: 1, backingPath: lunFile, thinProvisioning: true }],
  });
  const tap = await IscsiTap.start(tgtd.port);
  dir.beforeRemoval(() => tap.close());

  const sourcePath = path.join(dir.path, 'source.img');
  await createSparseFile(sourcePath, DISK_BYTES);
  for (let at = 0; at < 96 * MiB; at += 8 * MiB)
    await writeAt(sourcePath, at, patternBytes(6 * MiB, at / MiB + 1));

  const config = parseConfig(
    {
      dataDir: path.join(dir.path, 'data'),
      feeds: [
        { name: 'vm1', source: { type: 'image', disks: [{ id: 'disk-0', path: sourcePath }] } },
      ],
    },
    'test config',
  );
  const runtime = await startRuntime(config, silentLogger);
  dir.beforeRemoval(() => runtime.close());
  const target = createIscsiTarget({
    lunFor: lunTable(tap.portal, [{ disk: 'disk-0', targetIqn: IQN, lun: 1 }]),
    initiatorIqn: 'iqn.2024-01.io.extentlog:e2e-fault-initiator',
    reconnectTimeoutMs: 30_000,
    logger: silentLogger,
  });
  const { replay, stop } = await startRuntimeReplay(runtime, {
    targetName: 'san',
    target,
    feed: 'vm1',
    log: auditedLog(runtime.log, tap),
  });
  dir.beforeRemoval(stop);
  const feed = runtime.feeds.get('vm1')!;

  for (const [cycle, mutate] of [
    async () => undefined,
    async () => {
      for (let at = 4 * MiB; at < 100 * MiB; at += 9 * MiB)
        await writeAt(sourcePath, at + 333, patternBytes(2 * MiB, at));
      await writeAt(sourcePath, 8 * MiB, Buffer.alloc(4 * MiB));
    },
  ].entries()) {
    await mutate();
    const appliedBefore = diskStatus(replay)?.appliedBytes ?? 0;
    const synced = feed.syncNow();
    await eventually(
      `cycle ${cycle} under way on the target`,
      () => ((diskStatus(replay)?.appliedBytes ?? 0) > appliedBefore + 8 * MiB ? true : undefined),
      60_000,
    );
    tap.mark('kill');
    await tgtd.restart();
    const [result] = await synced;
    assert.ok(result?.committed, `cycle ${cycle} committed`);
    await eventually(
      `restore point of epoch ${result.committed.epoch}`,
      () =>
        (diskStatus(replay)?.lastRestorePoint?.epoch ?? 0) >= result.committed!.epoch
          ? true
          : undefined,
      90_000,
    );
    assert.equal(
      await sha256OfLun({ portal: tgtd.portal, targetIqn: IQN, lun: 1 }, DISK_BYTES),
      await sha256OfFile(sourcePath),
      `the LUN converged after cycle ${cycle}`,
    );
  }

  const connections = new Set(
    tap.timeline.flatMap((event) => ('connection' in event ? [event.connection] : [])),
  );
  assert.ok(
    connections.size >= 3,
    `the target reconnected after each kill (${connections.size} connections)`,
  );
  assert.ok(tap.commands(SYNCHRONIZE_CACHE_16) > 0);
  const commits = tap.timeline.flatMap((event, index) =>
    event.kind === 'mark' && event.label === 'commit' ? [index] : [],
  );
  assert.ok(commits.length > 2, `offsets were committed (${commits.length} times)`);
  for (const index of commits)
    assert.deepEqual(
      tap.uncoveredWrites(index),
      [],
      `commit at timeline position ${index} ran ahead of SYNCHRONIZE CACHE`,
    );
});
