/**
 * The replication spine end to end, each side in its own process like a deployment: the
 * embedded broker (`extentlog broker`), a producer (image source → feed) and a consumer
 * (replay → file target). Measured in the same run:
 * - a FULL sync of a 2 GiB half-allocated image, from the cycle's start until the target
 *   announced the restore point, vs `qemu-img convert -O raw` of the same image;
 * - an INCREMENTAL sync with 1 % of 4 KiB blocks changed vs
 *   `rsync --inplace --no-whole-file -I -B 4096`, and bytes published ÷ bytes changed;
 * - the peak RSS of the producer and the consumer, and how it moves as the disk grows from
 *   1 GiB to 8 GiB (same amount of data, so only the disk size changes).
 * The log writes and reads every byte twice with fsync, so half of a copy's speed is the
 * ceiling of the FULL ratio.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import process from 'node:process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { startBrokerProcess } from '../../support/broker-process.js';
import {
  BLOCK_BYTES,
  changeOnePercent,
  makeImage,
  RSYNC_DELTA,
  rsyncBlockDelta,
} from '../bench-images.js';
import {
  MiB,
  seconds,
  timeRow,
  type BenchContext,
  type BenchRow,
  type BenchSuite,
} from '../harness.js';

const run = promisify(execFile);
const roleScript = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'spine-role.js');

interface Report {
  readonly event: string;
  readonly maxRssBytes: number;
  readonly [field: string]: unknown;
}

interface Role {
  readonly child: ChildProcess;
  readonly reports: AsyncIterator<Report>;
  readonly exited: Promise<unknown>;
}

function startRole(role: 'producer' | 'consumer', configPath: string): Role {
  const child = spawn(process.execPath, [roleScript, role, configPath], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const lines = createInterface({ input: child.stdout! });
  async function* parse(): AsyncGenerator<Report> {
    for await (const line of lines) {
      const report = JSON.parse(line) as Report;
      if (report.event === 'error') throw new Error(`${role}: ${JSON.stringify(report)}`);
      yield report;
    }
    throw new Error(`${role} ended without reporting`);
  }
  return { child, reports: parse(), exited };
}

async function next(reports: AsyncIterator<Report>, event: string): Promise<Report> {
  for (;;) {
    const { value, done } = await reports.next();
    if (done) throw new Error(`no '${event}' report`);
    if (value.event === event) return value;
  }
}

interface Setup {
  readonly configPath: string;
  readonly consumer: Role;
}

/** Starts a consumer for one image on a fresh feed, returns how to run producer cycles. */
async function setUp(
  workDir: string,
  name: string,
  imagePath: string,
  connection: object,
): Promise<Setup> {
  const configPath = path.join(workDir, `${name}.json`);
  await writeFile(
    configPath,
    JSON.stringify({
      dataDir: path.join(workDir, `${name}-data`),
      topicPrefix: `bench-${name}`,
      ...connection,
      feeds: [
        {
          name,
          source: { type: 'image', disks: [{ id: 'disk', path: imagePath }] },
          heartbeatIntervalMs: 0,
        },
      ],
      targets: [
        {
          type: 'file',
          name: 'copy',
          feeds: [name],
          path: path.join(workDir, `${name}-target-{disk}.img`),
        },
      ],
    }),
  );
  const consumer = startRole('consumer', configPath);
  await next(consumer.reports, 'ready');
  return { configPath, consumer };
}

/** One producer cycle; resolves with the producer's report and the consumer's restore. */
async function syncOnce(
  setup: Setup,
): Promise<{ committed: Report; restored: Report; seconds: number }> {
  const producer = startRole('producer', setup.configPath);
  const committed = await next(producer.reports, 'committed');
  const restored = await next(setup.consumer.reports, 'restored');
  if (restored.epoch !== committed.epoch)
    throw new Error(
      `restored epoch ${String(restored.epoch)}, committed ${String(committed.epoch)}`,
    );
  await producer.exited;
  return {
    committed,
    restored,
    seconds: ((restored.restoredAtMs as number) - (committed.startedAtMs as number)) / 1000,
  };
}

/** Stops the consumer; resolves with its last report (its peak memory over the whole run). */
async function tearDown(setup: Setup): Promise<Report> {
  setup.consumer.child.stdin!.end();
  const exit = await next(setup.consumer.reports, 'exit');
  await setup.consumer.exited;
  return exit;
}

const mb = (bytes: number) => bytes / 1e6;

export const suite: BenchSuite = {
  name: 'spine',
  async run({ workDir, scale, log }: BenchContext): Promise<BenchRow[]> {
    const broker = await startBrokerProcess({ dataDir: path.join(workDir, 'broker'), port: 0 });
    const connection = {
      kafka: { brokers: [broker.address], replicationFactor: 1 },
      schemaRegistry: { url: broker.registryUrl },
    };
    const rows: BenchRow[] = [];
    try {
      const sizeBytes = Math.round(2048 * scale) * MiB;
      const imagePath = path.join(workDir, 'disk.img');
      log(`building a ${sizeBytes / MiB} MiB half-allocated image`);
      await makeImage(imagePath, sizeBytes);
      const setup = await setUp(workDir, 'main', imagePath, connection);
      log('FULL sync through the broker vs qemu-img convert');
      const full = await syncOnce(setup);
      const qemuSeconds = await seconds(() =>
        run('qemu-img', ['convert', '-O', 'raw', imagePath, path.join(workDir, 'qemu.img')]),
      );
      await rm(path.join(workDir, 'qemu.img'), { force: true });
      const fullData = full.committed.dataBytes as number;
      rows.push({
        ...timeRow(
          `FULL sync, ${sizeBytes / MiB} MiB half allocated, source → broker → file target`,
          full.seconds,
          { name: 'qemu-img convert -O raw', seconds: qemuSeconds },
          { atLeast: 0.25 },
        ),
      });
      rows.push({
        name: 'FULL sync throughput (data bytes)',
        value: mb(fullData) / full.seconds,
        unit: 'MB/s',
      });

      const copyPath = path.join(workDir, 'rsync-copy.img');
      await run('cp', ['--sparse=always', imagePath, copyPath]);
      const changed = await changeOnePercent(imagePath, sizeBytes);
      log(`INCREMENTAL sync with ${changed} changed blocks vs rsync`);
      const incremental = await syncOnce(setup);
      const rsyncSeconds = await seconds(() => rsyncBlockDelta(imagePath, copyPath));
      rows.push(
        timeRow(
          'INCREMENTAL sync, 1 % of 4 KiB blocks changed',
          incremental.seconds,
          { name: RSYNC_DELTA, seconds: rsyncSeconds },
          { atLeast: 1 },
        ),
      );
      const publishedRatio = (incremental.committed.dataBytes as number) / (changed * BLOCK_BYTES);
      rows.push({
        name: 'INCREMENTAL bytes published ÷ bytes changed',
        value: publishedRatio,
        unit: '×',
        target: '≤ 1.1',
        met: publishedRatio <= 1.1,
      });
      await tearDown(setup);
      await rm(copyPath, { force: true });
      await rm(imagePath, { force: true });

      // Peak memory as the disk grows, with the same 256 MiB of data on each.
      const peaks: { sizeGiB: number; producer: number; consumer: number }[] = [];
      for (const sizeGiB of [1, 8]) {
        const diskPath = path.join(workDir, `disk-${sizeGiB}g.img`);
        await makeImage(diskPath, sizeGiB * 1024 * MiB, (256 * MiB) / ((sizeGiB * 1024) / 8));
        const grown = await setUp(workDir, `rss${sizeGiB}g`, diskPath, connection);
        const first = await syncOnce(grown);
        await changeOnePercent(diskPath, sizeGiB * 1024 * MiB);
        const second = await syncOnce(grown);
        const exit = await tearDown(grown);
        peaks.push({
          sizeGiB,
          producer: Math.max(first.committed.maxRssBytes, second.committed.maxRssBytes),
          consumer: exit.maxRssBytes,
        });
        await rm(diskPath, { force: true });
      }
      for (const { sizeGiB, producer, consumer } of peaks) {
        rows.push({
          name: `peak RSS of the producer, ${sizeGiB} GiB disk`,
          value: mb(producer),
          unit: 'MB',
          target: '< 300',
          met: mb(producer) < 300,
        });
        rows.push({
          name: `peak RSS of the consumer, ${sizeGiB} GiB disk`,
          value: mb(consumer),
          unit: 'MB',
          target: '< 300',
          met: mb(consumer) < 300,
        });
      }
      const [small, large] = peaks;
      if (small && large) {
        const growth = Math.max(large.producer / small.producer, large.consumer / small.consumer);
        rows.push({
          name: 'peak RSS growth from 1 GiB to 8 GiB (largest of producer, consumer)',
          value: growth,
          unit: '×',
          target: '≤ 1.2',
          met: growth <= 1.2,
        });
      }
    } finally {
      broker.child.kill('SIGTERM');
      await broker.exited;
    }
    return rows;
  },
};
