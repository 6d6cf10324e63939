/**
 * Replay into an iSCSI LUN next to the tool an operator would use to copy an image onto one:
 * `qemu-img convert` through qemu's libiscsi block driver (iscsi://host:port/iqn/lun), both
 * into tgtd LUNs backed by sparse files.
 *
 * Both end with the copy durable: the replay issues SYNCHRONIZE CACHE before it records a
 * restore point, and qemu-img runs with `-t writeback`, which flushes (SYNCHRONIZE CACHE)
 * when it closes the target. With qemu-img's default cache mode for the output it sends no
 * flush at all (tracing tgtd shows no fdatasync of the backing file), so the LUN may still
 * lose the copy with the target's cache; that run is shown too, for reference.
 *
 * - replay: a FULL epoch of a half-allocated image already in the broker (`extentlog broker`
 *   in its own process, as a cluster would be), consumed by the replay engine (decode,
 *   CRC-32C check) into the iSCSI target, from the first record (the replay opens the disk)
 *   until its restore point is recorded; a second row adds the consumer group's join;
 * - the target adapter alone: the same extents applied from memory (no Kafka), to show what
 *   the adapter itself costs.
 * Times are medians of three runs, alternating with qemu-img; every LUN is checked against the
 * image (sha256 over iSCSI) outside the timing. The replay uses the default log driver
 * (librdkafka when installed, as `logDriver: auto` picks), named in the rows.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { open } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { filter, firstValueFrom, timeout } from 'rxjs';
import { parseConfig } from '../../../bin/config/load-config.js';
import { startRuntime } from '../../../bin/runtime.js';
import { createIscsiTarget, lunTable } from '../../../consumers/iscsi/iscsi-target.js';
import type { ApplyExtent } from '../../../consumers/target.js';
import { Tgtd } from '../../peers/tgtd.js';
import { startBrokerProcess } from '../../support/broker-process.js';
import { sha256OfFile } from '../../support/image-files.js';
import { sha256OfLun } from '../../support/iscsi-lun.js';
import { startRuntimeReplay } from '../../support/runtime-replay.js';
import { silentLogger } from '../../support/silent-logger.js';
import { createSparseFile } from '../../support/sparse-file.js';
import {
  median,
  MiB,
  seconds,
  throughputRow,
  type BenchContext,
  type BenchRow,
  type BenchSuite,
} from '../harness.js';

const run = promisify(execFile);
const INITIATOR = 'iqn.2024-01.io.extentlog:bench';

/** Half allocated: 4 MiB of random data in every 8 MiB. */
async function makeImage(imagePath: string, sizeBytes: number): Promise<ApplyExtent[]> {
  await createSparseFile(imagePath, sizeBytes);
  const handle = await open(imagePath, 'r+');
  const extents: ApplyExtent[] = [];
  for (let offsetBytes = 0; offsetBytes < sizeBytes; offsetBytes += 8 * MiB) {
    const data = randomBytes(4 * MiB);
    await handle.write(data, 0, data.length, offsetBytes);
    for (let at = 0; at < data.length; at += MiB)
      extents.push({
        offsetBytes: offsetBytes + at,
        lengthBytes: MiB,
        op: 'WRITE',
        data: data.subarray(at, at + MiB),
      });
    extents.push({
      offsetBytes: offsetBytes + 4 * MiB,
      lengthBytes: 4 * MiB,
      op: 'ZERO',
      data: null,
    });
  }
  await handle.close();
  return extents;
}

export const suite: BenchSuite = {
  name: 'iscsi-target',
  async run({ workDir, scale, log }: BenchContext): Promise<BenchRow[]> {
    const sizeBytes = Math.round(1024 * scale) * MiB;
    const imagePath = path.join(workDir, 'image.raw');
    log(`building a ${sizeBytes / MiB} MiB half-allocated image`);
    const extents = await makeImage(imagePath, sizeBytes);
    const imageSha256 = await sha256OfFile(imagePath);
    const tgtd = await Tgtd.start(workDir);
    const broker = await startBrokerProcess({ dataDir: path.join(workDir, 'broker'), port: 0 });
    const runtime = await startRuntime(
      parseConfig(
        {
          kafka: { brokers: [broker.address], replicationFactor: 1 },
          schemaRegistry: { url: broker.registryUrl },
          dataDir: path.join(workDir, 'data'),
          feeds: [
            {
              name: 'bench',
              source: { type: 'image', disks: [{ id: 'disk-0', path: imagePath }] },
            },
          ],
        },
        'bench config',
      ),
      silentLogger,
    );
    try {
      const names = ['replay', 'adapter', 'qemu', 'qemu-unflushed'];
      for (const [index, name] of names.entries()) {
        const backingPath = path.join(workDir, `${name}.lun`);
        await createSparseFile(backingPath, sizeBytes);
        await tgtd.addTarget({
          tid: index + 1,
          iqn: `iqn.2024-01.io.extentlog:bench-${name}`,
          luns: [{ lun: 1, backingPath, thinProvisioning: true }],
        });
      }
      const lun = (name: string) => ({
        portal: tgtd.portal,
        targetIqn: `iqn.2024-01.io.extentlog:bench-${name}`,
        lun: 1,
      });
      const target = (name: string) =>
        createIscsiTarget({
          lunFor: lunTable(tgtd.portal, [{ disk: 'disk-0', ...lun(name) }]),
          initiatorIqn: INITIATOR,
          logger: silentLogger,
        });
      log('publishing a FULL epoch of the image');
      const [cycle] = await runtime.feeds.get('bench')!.syncNow();
      if (!cycle?.committed) throw new Error('the FULL cycle did not commit');
      const epoch = cycle.committed.epoch;

      const replaySeconds: number[] = [];
      const replayWithJoinSeconds: number[] = [];
      const adapterSeconds: number[] = [];
      const qemuSeconds: number[] = [];
      const qemuUnflushedSeconds: number[] = [];
      for (let round = 0; round < 3; round++) {
        log(`round ${round + 1}: replay`);
        const startedAt = performance.now();
        let firstRecordAt = Number.NaN;
        const replayTarget = target('replay');
        const { replay, stop } = await startRuntimeReplay(runtime, {
          targetName: `bench-replay-${round}`,
          target: {
            kind: replayTarget.kind,
            openDisk(disk) {
              firstRecordAt = performance.now();
              return replayTarget.openDisk(disk);
            },
            close: () => replayTarget.close(),
          },
          feed: 'bench',
          flushIntervalMs: 1000,
        });
        // Watched on the status stream, not polled: the time is taken when the point is recorded.
        await firstValueFrom(
          replay.status$.pipe(
            filter((status) => {
              const disk = status.disks[0];
              if (disk?.lastError) throw new Error(disk.lastError.message);
              return (disk?.lastRestorePoint?.epoch ?? 0) >= epoch;
            }),
            timeout({ first: 600_000 }),
          ),
        );
        const restoredAt = performance.now();
        await stop();
        replaySeconds.push((restoredAt - firstRecordAt) / 1000);
        replayWithJoinSeconds.push((restoredAt - startedAt) / 1000);
        log(`round ${round + 1}: target adapter alone`);
        adapterSeconds.push(
          await seconds(async () => {
            const adapter = target('adapter');
            const disk = await adapter.openDisk({
              feed: 'bench',
              diskId: 'disk-0',
              sizeBytes,
              blockSizeBytes: 4096,
            });
            for (const extent of extents) await disk.apply(extent);
            await disk.flush();
            await disk.close();
          }),
        );
        const qemuConvert = (name: string, cacheOptions: readonly string[]) => {
          const { portal, targetIqn } = lun(name);
          return seconds(() =>
            run('qemu-img', [
              'convert',
              ...cacheOptions,
              '-n',
              '-f',
              'raw',
              '-O',
              'raw',
              imagePath,
              `iscsi://${portal}/${targetIqn}/1`,
            ]),
          );
        };
        log(`round ${round + 1}: qemu-img convert -t writeback`);
        qemuSeconds.push(await qemuConvert('qemu', ['-t', 'writeback']));
        log(`round ${round + 1}: qemu-img convert (default cache mode)`);
        qemuUnflushedSeconds.push(await qemuConvert('qemu-unflushed', []));
      }
      for (const name of names)
        if ((await sha256OfLun(lun(name), sizeBytes)) !== imageSha256)
          throw new Error(`the ${name} LUN does not hold the image`);

      const MBps = (values: number[]) => sizeBytes / 1e6 / median(values);
      const qemu = { name: 'qemu-img convert -t writeback → iscsi://', MBps: MBps(qemuSeconds) };
      const label = `${sizeBytes / MiB} MiB half-allocated image into a tgtd LUN`;
      const driver = runtime.log.driver;
      return [
        throughputRow(
          `replay (broker → ${driver} → decode → iSCSI target), ${label}`,
          MBps(replaySeconds),
          qemu,
          { atLeast: 0.7 },
        ),
        throughputRow(
          `replay as above, with the consumer group's join, ${label}`,
          MBps(replayWithJoinSeconds),
          qemu,
        ),
        throughputRow(
          `iSCSI target adapter alone (extents in memory), ${label}`,
          MBps(adapterSeconds),
          qemu,
        ),
        throughputRow(
          `replay as above, vs qemu-img without its final flush, ${label}`,
          MBps(replaySeconds),
          {
            name: 'qemu-img convert (default cache) → iscsi://',
            MBps: MBps(qemuUnflushedSeconds),
          },
        ),
      ];
    } finally {
      await runtime.close();
      broker.child.kill('SIGTERM');
      await broker.exited;
      await tgtd.stop();
    }
  },
};
