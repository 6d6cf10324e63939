/**
 * A feed replayed into a tgtd LUN end to end, on the embedded broker: after every cycle the
 * LUN, read back over iSCSI, has the source image's sha256, and the zeroed ranges are holes
 * in the LUN's backing file (thin provisioning on: ZERO becomes WRITE SAME with UNMAP). The
 * target reads its latest restore point back (as `extentlog verify` does) and refuses older
 * ones.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { parseConfig } from '../../bin/config/load-config.js';
import { startRuntime, type Runtime } from '../../bin/runtime.js';
import { diskChunks } from '../../bin/disk-chunks.js';
import type { DiskRange, Target } from '../../consumers/target.js';
import type { RestorePoint } from '../../schemas/restore-point.js';
import { Tgtd } from '../peers/tgtd.js';
import { eventually } from '../support/eventually.js';
import { createSampleDisk, patternBytes, sha256OfFile, writeAt } from '../support/image-files.js';
import { sha256OfLun } from '../support/iscsi-lun.js';
import { silentLogger } from '../support/silent-logger.js';
import { allocatedBytes, createSparseFile, isHole } from '../support/sparse-file.js';
import { tempDir } from '../support/temp-dir.js';

const MiB = 1024 * 1024;
const IQN = 'iqn.2024-01.io.extentlog:e2e-replica';

async function restorePoint(runtime: Runtime, target: string, epoch: number) {
  const replay = runtime.replays.get(target)!;
  return eventually(
    `${target} restore point of epoch ${epoch}`,
    () => {
      const status = replay.status().disks.find((entry) => entry.diskId === 'disk-0');
      if (status?.lastError) throw new Error(`${target}: ${status.lastError.message}`);
      return (status?.lastRestorePoint?.epoch ?? 0) >= epoch
        ? status!.lastRestorePoint!
        : undefined;
    },
    90_000,
  );
}

/**
 * A restore point as the target reads it back: sha256 of every byte read in chunks that cut
 * blocks, sha256 of the data ranges it reports with zeros between them, and those ranges.
 */
async function readBack(target: Target, point: RestorePoint) {
  const reader = await target.openRestorePoint!(point, point);
  try {
    assert.equal(reader.sizeBytes, point.diskSizeBytes);
    const everyByte = createHash('sha256');
    const chunkBytes = 3 * MiB + 1000;
    for (let at = 0; at < reader.sizeBytes; at += chunkBytes)
      everyByte.update(await reader.read(at, Math.min(chunkBytes, reader.sizeBytes - at)));
    assert.ok(reader.dataRanges, 'a thin LUN that reads zeros when unmapped reports its data');
    const ranges: DiskRange[] = [];
    for await (const range of reader.dataRanges()) ranges.push(range);
    const skippingHoles = createHash('sha256');
    for await (const chunk of diskChunks(reader))
      skippingHoles.update(chunk.kind === 'data' ? chunk.data : Buffer.alloc(chunk.lengthBytes));
    return {
      everyByte: everyByte.digest('hex'),
      skippingHoles: skippingHoles.digest('hex'),
      ranges,
    };
  } finally {
    await reader.close();
  }
}

test('a feed replays into a thin tgtd LUN: each restore point equals the source, zeros are holes', async (t) => {
  const dir = await tempDir(t, 'e2e-iscsi');
  const tgtd = await Tgtd.start(dir.path);
  dir.beforeRemoval(() => tgtd.stop());
  const lunFile = path.join(dir.path, 'lun.img');
  await createSparseFile(lunFile, 64 * MiB);
  await tgtd.addTarget({
    tid: 1,
    iqn: IQN,
    luns: [{ lun: 1, backingPath: lunFile, thinProvisioning: true }],
  });

  const sourcePath = path.join(dir.path, 'source.img');
  await createSampleDisk(sourcePath);

  const config = parseConfig(
    {
      dataDir: path.join(dir.path, 'data'),
      feeds: [
        {
          name: 'vm1',
          source: { type: 'image', disks: [{ id: 'disk-0', path: sourcePath }] },
          heartbeatIntervalMs: 200,
        },
      ],
      targets: [
        {
          type: 'iscsi',
          name: 'san',
          feeds: ['vm1'],
          portal: tgtd.portal,
          initiatorIqn: 'iqn.2024-01.io.extentlog:e2e-initiator',
          luns: [{ disk: 'disk-0', targetIqn: IQN, lun: 1 }],
          flushIntervalMs: 100,
        },
      ],
    },
    'test config',
  );
  const runtime = await startRuntime(config, silentLogger);
  dir.beforeRemoval(() => runtime.close());
  const feed = runtime.feeds.get('vm1')!;
  const lun = { portal: tgtd.portal, targetIqn: IQN, lun: 1 };

  const cycles: { mutate: () => Promise<void>; holes: [number, number][] }[] = [
    { mutate: async () => undefined, holes: [[40 * MiB, 8 * MiB]] },
    {
      mutate: async () => {
        await writeAt(sourcePath, 4096 * 10, patternBytes(4096, 4));
        await writeAt(sourcePath, 20 * MiB + 4096, Buffer.alloc(2 * MiB)); // zeros over data
        await writeAt(sourcePath, 40 * MiB, patternBytes(777, 5)); // unaligned, into a hole
      },
      holes: [[20 * MiB + 8192, 2 * MiB - 8192]],
    },
    {
      mutate: async () => {
        const handle = await open(sourcePath, 'r+');
        await handle.truncate(32 * MiB); // the tail becomes a hole …
        await handle.truncate(64 * MiB);
        await handle.close();
        await writeAt(sourcePath, 5 * MiB, patternBytes(3 * 4096, 6));
      },
      holes: [[33 * MiB, 30 * MiB]],
    },
  ];
  const points: RestorePoint[] = [];
  for (const [index, cycle] of cycles.entries()) {
    await cycle.mutate();
    const [result] = await feed.syncNow();
    assert.ok(result?.committed, `cycle ${index} committed`);
    const point = await restorePoint(runtime, 'san', result.committed.epoch);
    points.push(point);
    assert.equal(point.location, `iscsi://${tgtd.portal}/${IQN}/1`);
    const sourceSha256 = await sha256OfFile(sourcePath);
    assert.equal(
      await sha256OfLun(lun, 64 * MiB),
      sourceSha256,
      `the LUN equals the source after cycle ${index}`,
    );
    const back = await readBack(runtime.targets.get('san')!, point);
    assert.equal(back.everyByte, sourceSha256, `restore point ${point.epoch} reads as the source`);
    assert.equal(back.skippingHoles, sourceSha256, `its data ranges and holes make the source`);
    for (const [offsetBytes, lengthBytes] of cycle.holes)
      assert.ok(
        back.ranges.every(
          (range) => range.endBytes <= offsetBytes || range.startBytes >= offsetBytes + lengthBytes,
        ),
        `cycle ${index}: no data range reported in the hole at ${offsetBytes}`,
      );
    for (const [offsetBytes, lengthBytes] of cycle.holes)
      assert.ok(
        await isHole(lunFile, offsetBytes, lengthBytes),
        `cycle ${index}: [${offsetBytes}, +${lengthBytes}) is a hole`,
      );
  }
  await assert.rejects(
    runtime.targets.get('san')!.openRestorePoint!(points[0]!, points[points.length - 1]!),
    (error: Error & { code?: string }) =>
      error.code === 'EXTENTLOG_ERR_TARGET_POINT_UNAVAILABLE' &&
      error.message.includes(`holds only its latest restore point (epoch ${points[2]!.epoch})`),
  );
  assert.ok(
    (await allocatedBytes(lunFile)) < 16 * MiB,
    'the thin LUN holds about the data, not the disk',
  );
});
