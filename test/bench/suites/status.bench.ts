/**
 * The status API under load: while one process runs a FULL sync of a 2 GiB disk (every
 * block data, so 2 GiB of extents) through its embedded broker into a file target, a
 * separate process reads the status routes (feeds, targets, overview, readiness) 25 times
 * a second and records each answer's latency. The goal is p99 < 50 ms; the same reads of
 * the idle process are the baseline. On a shared machine the scheduler alone adds tens of
 * milliseconds to a tail, so a bare node:http server in a third process (bare-http-server.ts)
 * is read at the same time and rate: its latencies are the floor the machine allowed.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import { open } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { parseConfig } from '../../../bin/config/load-config.js';
import { startRuntime } from '../../../bin/runtime.js';
import { MiB, type BenchContext, type BenchRow, type BenchSuite } from '../harness.js';

const CLIENT = fileURLToPath(new URL('../status-load-client.js', import.meta.url));
const BARE_SERVER = fileURLToPath(new URL('../bare-http-server.js', import.meta.url));
const INTERVAL_MS = 40;

interface LoadResult {
  latenciesMs: Record<string, number[]>;
  errors: number;
  notReady: number;
}

/** Starts the load client; `stop()` ends it and resolves with what it measured. */
function startLoad(url: string, routes: readonly string[] = []): { stop(): Promise<LoadResult> } {
  const child = spawn(process.execPath, [CLIENT, url, String(INTERVAL_MS), ...routes], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  let stdout = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  return {
    async stop() {
      child.stdin.end();
      const code = await exited;
      if (code !== 0) throw new Error(`the load client exited with ${code}`);
      return JSON.parse(stdout) as LoadResult;
    },
  };
}

/** Starts the bare server; resolves with its URL and a `stop()` that waits for its exit. */
async function startBareServer(): Promise<{ url: string; stop(): Promise<void> }> {
  const child = spawn(process.execPath, [BARE_SERVER], { stdio: ['pipe', 'pipe', 'inherit'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const port = await new Promise<number>((resolve, reject) => {
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      const line = stdout.split('\n')[0];
      if (stdout.includes('\n') && line !== undefined)
        resolve((JSON.parse(line) as { port: number }).port);
    });
    child.once('exit', (code) => reject(new Error(`the bare server exited with ${code}`)));
  });
  return {
    url: `http://127.0.0.1:${port}`,
    async stop() {
      child.stdin.end();
      await exited;
    },
  };
}

function percentile(values: readonly number[], fraction: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(fraction * sorted.length) - 1)] ?? NaN;
}

/** Every byte data (no zero runs): the FULL cycle publishes the whole disk as WRITE extents. */
async function makeFullImage(imagePath: string, sizeBytes: number): Promise<void> {
  const handle = await open(imagePath, 'w');
  const chunk = randomBytes(8 * MiB);
  try {
    for (let offsetBytes = 0; offsetBytes < sizeBytes; offsetBytes += chunk.length) {
      chunk.writeDoubleLE(offsetBytes, 0);
      await handle.write(chunk, 0, Math.min(chunk.length, sizeBytes - offsetBytes), offsetBytes);
    }
  } finally {
    await handle.close();
  }
}

export const suite: BenchSuite = {
  name: 'status',
  async run({ workDir, scale, log }: BenchContext): Promise<BenchRow[]> {
    const sizeBytes = Math.round(2048 * scale) * MiB;
    const imagePath = path.join(workDir, 'disk.img');
    log(`building a ${sizeBytes / MiB} MiB image of data`);
    await makeFullImage(imagePath, sizeBytes);
    const config = parseConfig(
      {
        dataDir: path.join(workDir, 'data'),
        feeds: [
          {
            name: 'bench',
            source: { type: 'image', disks: [{ id: 'disk-0', path: imagePath }] },
            heartbeatIntervalMs: 1000,
          },
        ],
        targets: [
          {
            type: 'file',
            name: 'mirror',
            feeds: ['bench'],
            path: path.join(workDir, 'mirror', '{feed}-{disk}.img'),
          },
        ],
      },
      'status benchmark',
    );
    const runtime = await startRuntime(config, pino({ level: 'silent' }), {
      status: { port: 0, sampleIntervalMs: 1000 },
    });
    try {
      const url = runtime.status!.url;
      log('status reads of the idle process');
      const idleLoad = startLoad(url);
      await new Promise((resolve) => setTimeout(resolve, 10_000));
      const idle = await idleLoad.stop();

      log(`status reads during the FULL sync of ${sizeBytes / MiB} MiB`);
      const bare = await startBareServer();
      const busyLoad = startLoad(url);
      const floorLoad = startLoad(bare.url, ['/']);
      const startedAt = process.hrtime.bigint();
      const synced = runtime.feeds.get('bench')!.syncNow();
      // The clients and the bare server end whether or not the sync succeeded.
      await Promise.allSettled([synced]);
      const syncSeconds = Number(process.hrtime.bigint() - startedAt) / 1e9;
      const busy = await busyLoad.stop();
      const floor = await floorLoad.stop();
      await bare.stop();
      const [result] = await synced;
      // The machine is shared: say how busy it was, to read the latencies against.
      log(
        `load average after the sync: ${os
          .loadavg()
          .map((load) => load.toFixed(1))
          .join(' ')}`,
      );
      if (result?.committed === null || result === undefined)
        throw new Error('the FULL cycle did not commit');

      const all = (load: LoadResult) => Object.values(load.latenciesMs).flat();
      const busyAll = all(busy);
      const idleAll = all(idle);
      const size = `${sizeBytes / MiB} MiB`;
      const p99 = percentile(busyAll, 0.99);
      const rows: BenchRow[] = [
        {
          name: `status read p99 during a ${size} FULL sync (${busyAll.length} reads, ${busy.errors} errors, ${busy.notReady} not ready)`,
          value: p99,
          unit: 'ms',
          peer: { name: 'same reads, idle', value: percentile(idleAll, 0.99), unit: 'ms' },
          target: '< 50 ms',
          met: p99 < 50 && busy.errors === 0,
        },
        {
          name: `the machine's floor: p99 of a bare node:http server read at the same time`,
          value: percentile(all(floor), 0.99),
          unit: 'ms',
        },
        {
          name: `status read p50 during the sync`,
          value: percentile(busyAll, 0.5),
          unit: 'ms',
          peer: { name: 'same reads, idle', value: percentile(idleAll, 0.5), unit: 'ms' },
        },
        {
          name: `status read max during the sync`,
          value: Math.max(...busyAll),
          unit: 'ms',
        },
        ...Object.entries(busy.latenciesMs).map(([route, values]) => ({
          name: `  p99 of GET ${route} during the sync`,
          value: percentile(values, 0.99),
          unit: 'ms',
        })),
        {
          name: `FULL sync of ${size} while serving status`,
          value: result.dataBytes / 1e6 / syncSeconds,
          unit: 'MB/s',
        },
      ];
      return rows;
    } finally {
      await runtime.close();
    }
  },
};
