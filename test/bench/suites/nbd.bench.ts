/**
 * The NBD data path and the QEMU source, next to libnbd's nbdcopy in the same run:
 * - a full read of a 2 GiB half-allocated export served by qemu-nbd: base:allocation, then
 *   every data range read (256 KiB requests, 16 in flight on each of 4 connections,
 *   buffers reused) vs `nbdcopy … null:` of the same export (4 connections, block status too);
 * - an INCREMENTAL cycle of the QEMU source after 1 % of the disk was rewritten in 64 KiB
 *   clusters, published through the feed to the embedded broker: its time next to the FULL
 *   cycle's, and the bytes it published per byte dirtied (1.0 when the bitmap is exact).
 * Medians of seven runs after a warm-up run of each (a replicating process is long-lived,
 * its code compiled), the two sides interleaved; warm page cache for both.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { open, truncate, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { pino } from 'pino';
import { parseConfig } from '../../../bin/config/load-config.js';
import { startRuntime } from '../../../bin/runtime.js';
import { scanStatus } from '../../../producers/nbd/changed-extents.js';
import { NbdClient } from '../../../producers/nbd/nbd-client.js';
import { startQemuNbd } from '../../support/nbd-servers.js';
import { qemuImg, qemuIo } from '../../support/qemu-images.js';
import {
  median,
  MiB,
  seconds,
  throughputRow,
  timeRow,
  type BenchContext,
  type BenchRow,
  type BenchSuite,
} from '../harness.js';

const run = promisify(execFile);
const CLUSTER = 64 * 1024;

/** Half allocated: 4 MiB of random data in every 8 MiB. */
async function makeRaw(imagePath: string, sizeBytes: number): Promise<number> {
  await writeFile(imagePath, '');
  await truncate(imagePath, sizeBytes);
  const handle = await open(imagePath, 'r+');
  const chunk = randomBytes(4 * MiB);
  let dataBytes = 0;
  for (let offsetBytes = 0; offsetBytes < sizeBytes; offsetBytes += 8 * MiB) {
    chunk.writeDoubleLE(offsetBytes, 0);
    await handle.write(chunk, 0, chunk.length, offsetBytes);
    dataBytes += chunk.length;
  }
  await handle.close();
  return dataBytes;
}

/** What a FULL cycle reads, without the feed: allocation, then every data range. */
async function readExport(address: { socketPath: string }): Promise<number> {
  const requestBytes = 256 * 1024;
  const client = await NbdClient.connect({
    address,
    exportName: '',
    metaContexts: ['base:allocation'],
    connections: 4,
    maxInFlight: 16,
    maxRequestBytes: requestBytes,
  });
  const pieces: [number, number][] = [];
  for await (const segment of scanStatus(client, ['base:allocation'], 0, client.sizeBytes)) {
    if ((segment.flags[0]! & 2) !== 0) continue; // reads as zeros
    const end = segment.offsetBytes + segment.lengthBytes;
    for (let at = segment.offsetBytes; at < end; at += requestBytes)
      pieces.push([at, Math.min(requestBytes, end - at)]);
  }
  let next = 0;
  let readBytes = 0;
  const worker = async () => {
    const buffer = Buffer.allocUnsafeSlow(requestBytes);
    while (next < pieces.length) {
      const [offsetBytes, lengthBytes] = pieces[next++]!;
      await client.readInto(offsetBytes, buffer.subarray(0, lengthBytes));
      readBytes += lengthBytes;
    }
  };
  await Promise.all(Array.from({ length: 4 * 16 }, worker));
  await client.close();
  return readBytes;
}

async function fullRead(context: BenchContext): Promise<BenchRow> {
  const { workDir, scale, log } = context;
  const sizeBytes = Math.round(2048 * scale) * MiB;
  const raw = path.join(workDir, 'disk.raw');
  log(`building a ${sizeBytes / MiB} MiB half-allocated image`);
  const dataBytes = await makeRaw(raw, sizeBytes);
  const cleanups: (() => Promise<unknown> | unknown)[] = [];
  try {
    const server = await startQemuNbd((fn) => cleanups.push(fn), {
      image: raw,
      format: 'raw',
      dir: workDir,
    });
    const address = server.address as { socketPath: string };
    const url = `nbd+unix:///?socket=${address.socketPath}`;
    log('full reads: extentlog NBD client vs nbdcopy, interleaved, after a warm-up of each');
    await readExport(address);
    await run('nbdcopy', [url, 'null:']);
    const ours: number[] = [];
    const peer: number[] = [];
    for (let round = 0; round < 7; round++) {
      ours.push(
        await seconds(async () => {
          const read = await readExport(address);
          if (read !== dataBytes) throw new Error(`read ${read} bytes, expected ${dataBytes}`);
        }),
      );
      peer.push(await seconds(() => run('nbdcopy', [url, 'null:'])));
    }
    const rates = (times: number[]) => times.map((s) => (dataBytes / 1e6 / s).toFixed(0)).join(' ');
    log(`full reads, MB/s: extentlog ${rates(ours)}; nbdcopy ${rates(peer)}`);
    return throughputRow(
      `NBD full read, ${sizeBytes / MiB} MiB half allocated (qemu-nbd, 4 connections)`,
      dataBytes / 1e6 / median(ours),
      { name: 'nbdcopy … null:', MBps: dataBytes / 1e6 / median(peer) },
      { atLeast: 0.8 },
    );
  } finally {
    for (const cleanup of cleanups.reverse()) await cleanup();
  }
}

async function incrementalCycle(context: BenchContext): Promise<BenchRow[]> {
  const { workDir, scale, log } = context;
  const sizeBytes = Math.round(2048 * scale) * MiB;
  const raw = path.join(workDir, 'cycle.raw');
  const image = path.join(workDir, 'cycle.qcow2');
  await makeRaw(raw, sizeBytes);
  await qemuImg('convert', '-f', 'raw', '-O', 'qcow2', raw, image);
  const config = parseConfig(
    {
      dataDir: path.join(workDir, 'data'),
      feeds: [
        {
          name: 'bench',
          source: { type: 'qemu', disks: [{ id: 'disk-0', image }], nbdConnections: 4 },
          heartbeatIntervalMs: 0,
          retentionBytes: -1,
        },
      ],
    },
    'benchmark config',
  );
  const runtime = await startRuntime(config, pino({ level: 'silent' }));
  try {
    const feed = runtime.feeds.get('bench')!;
    log('FULL cycle through the feed to the embedded broker');
    let full = 0;
    const fullSeconds = await seconds(async () => {
      const [result] = await feed.syncNow();
      full = result?.dataBytes ?? 0;
    });
    const clusters = sizeBytes / CLUSTER;
    const commands: string[] = [];
    for (let cluster = 37; cluster < clusters; cluster += 100)
      commands.push(`write -P ${cluster % 251} ${cluster * CLUSTER} ${CLUSTER}`);
    const dirtyBytes = commands.length * CLUSTER;
    for (let at = 0; at < commands.length; at += 200)
      await qemuIo(image, commands.slice(at, at + 200));
    log(`INCREMENTAL cycle after ${dirtyBytes / MiB} MiB dirtied in ${commands.length} clusters`);
    let published = 0;
    const incrementalSeconds = await seconds(async () => {
      const [result] = await feed.syncNow();
      if (result?.mode !== 'INCREMENTAL')
        throw new Error(`expected INCREMENTAL, got ${result?.mode}`);
      published = result.dataBytes + result.zeroBytes;
    });
    log(`FULL published ${full} data bytes in ${fullSeconds.toFixed(2)} s`);
    const ratio = published / dirtyBytes;
    return [
      timeRow(
        `INCREMENTAL cycle, 1 % dirty (${dirtyBytes / MiB} MiB) of ${sizeBytes / MiB} MiB qcow2`,
        incrementalSeconds,
        { name: 'FULL cycle of the same disk', seconds: fullSeconds },
      ),
      {
        name: 'INCREMENTAL bytes published ÷ bytes dirtied',
        value: ratio,
        unit: '×',
        target: '≤ 1.0',
        met: ratio <= 1.0,
      },
    ];
  } finally {
    await runtime.close();
  }
}

export const suite: BenchSuite = {
  name: 'nbd',
  async run(context: BenchContext): Promise<BenchRow[]> {
    return [await fullRead(context), ...(await incrementalCycle(context))];
  },
};
