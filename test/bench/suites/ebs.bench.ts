/**
 * EBS block transfer at 1, 16 and 64 requests in flight — blocks/s, MB/s and client CPU per
 * block: source reads (a FULL cycle of a volume whose blocks all hold data, drained the way
 * the feed reads it: `GetSnapshotBlock`, verified) and target writes (a staged epoch of as
 * many blocks written to a new snapshot: `PutSnapshotBlock` with checksums). The emulator
 * runs in its own process and answers after a fixed round trip (a region's latency), so the
 * rows show how the clients scale with concurrency; the 16 and 64 rows compare against the
 * 1-in-flight run of the same moment.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import process from 'node:process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { createAwsClients } from '../../../bin/aws-clients.js';
import { createAwsCaller } from '../../../cloud/aws/aws-caller.js';
import { TokenBucket } from '../../../cloud/token-bucket.js';
import { DATA, EpochStaging } from '../../../consumers/ebs/epoch-staging.js';
import { writeSnapshot } from '../../../consumers/ebs/snapshot-writer.js';
import { createEbsSource } from '../../../producers/ebs/ebs-source.js';
import { patternBytes } from '../../support/image-files.js';
import { silentLogger } from '../../support/silent-logger.js';
import type { EmulatorProcessReady, EmulatorProcessSpec } from '../aws-ebs-emulator-process.js';
import { throughputRow, type BenchContext, type BenchRow, type BenchSuite } from '../harness.js';

const BLOCK = 512 * 1024;
const LATENCY_MS = 20;
const CONCURRENCIES = [1, 16, 64] as const;
const emulatorScript = path.join(
  path.dirname(fileURLToPath(import.meta.url)),
  '..',
  'aws-ebs-emulator-process.js',
);

async function startEmulatorProcess(
  context: BenchContext,
  blocks: number,
): Promise<{ child: ChildProcess; ready: EmulatorProcessReady }> {
  const spec: EmulatorProcessSpec = { dir: context.workDir, latencyMs: LATENCY_MS, blocks };
  const specPath = path.join(context.workDir, 'emulator.json');
  await writeFile(specPath, JSON.stringify(spec));
  const child = spawn(process.execPath, [emulatorScript, specPath], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const exited = once(child, 'exit').then(([code]) => {
    throw new Error(`the EBS emulator process exited (${String(code)}) before it was ready`);
  });
  const lines = createInterface({ input: child.stdout! });
  const firstLine = once(lines, 'line').then(([line]) => JSON.parse(line as string));
  try {
    return { child, ready: (await Promise.race([firstLine, exited])) as EmulatorProcessReady };
  } catch (error) {
    child.kill();
    throw error;
  }
}

/** Drains one FULL cycle's data as the feed would; returns data bytes per second. */
async function drainFullCycle(ready: EmulatorProcessReady, readConcurrency: number) {
  const clients = createAwsClients({
    region: ready.region,
    credentialsFile: ready.credentialsFile,
    ebsEndpoint: ready.endpoint,
    ec2Endpoint: ready.endpoint,
    maxSockets: readConcurrency + 8,
  });
  const source = createEbsSource({
    feed: 'bench',
    volumes: [{ volumeId: ready.volumeId }],
    ebs: clients.ebs,
    ec2: clients.ec2,
    caller: createAwsCaller({ bucket: new TokenBucket({ ratePerSecond: 100_000, burst: 1000 }) }),
    polling: { initialPollMs: 5, maxPollMs: 50, timeoutMs: 60_000 },
    readConcurrency,
    logger: silentLogger,
  });
  try {
    const [disk] = await source.disks();
    const changeSet = await source.open(disk!, null);
    let dataBytes = 0;
    const cpuBefore = process.cpuUsage();
    const started = process.hrtime.bigint();
    for await (const item of changeSet.changes()) {
      if (item.kind !== 'extent' || item.op !== 'WRITE') continue;
      for (let at = item.offsetBytes; at < item.offsetBytes + item.lengthBytes; at += BLOCK)
        dataBytes += (await changeSet.reader.read(at, BLOCK)).length;
    }
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const cpu = process.cpuUsage(cpuBefore);
    await changeSet.abort('benchmark');
    return { seconds, dataBytes, cpuMs: (cpu.user + cpu.system) / 1000 };
  } finally {
    await source.close();
    clients.close();
  }
}

/** Writes `blocks` staged data blocks into a new snapshot; returns the time it took. */
async function writeStagedEpoch(
  context: BenchContext,
  ready: EmulatorProcessReady,
  blocks: number,
  putConcurrency: number,
) {
  const clients = createAwsClients({
    region: ready.region,
    credentialsFile: ready.credentialsFile,
    ebsEndpoint: ready.endpoint,
    ec2Endpoint: ready.endpoint,
    maxSockets: putConcurrency + 8,
  });
  const dir = path.join(context.workDir, `staging-${putConcurrency}`);
  const staging = await EpochStaging.open(dir, 1, Math.ceil(blocks / 2048) * 2048 * BLOCK, null);
  try {
    for (let index = 0; index < blocks; index++) {
      await staging.write(index * BLOCK, patternBytes(BLOCK, 1000 + index));
      staging.setState(index, DATA);
    }
    const cpuBefore = process.cpuUsage();
    const started = process.hrtime.bigint();
    await writeSnapshot({
      caller: createAwsCaller({ bucket: new TokenBucket({ ratePerSecond: 100_000, burst: 1000 }) }),
      ebs: clients.ebs,
      ec2: clients.ec2,
      staging,
      tags: [],
      description: 'benchmark',
      clientTokenSeed: `bench-${putConcurrency}`,
      putConcurrency,
      timeoutMinutes: 60,
      polling: { initialPollMs: 5, maxPollMs: 50, timeoutMs: 60_000 },
    });
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const cpu = process.cpuUsage(cpuBefore);
    return { seconds, dataBytes: blocks * BLOCK, cpuMs: (cpu.user + cpu.system) / 1000 };
  } finally {
    await staging.remove();
    clients.close();
  }
}

interface Transfer {
  readonly seconds: number;
  readonly dataBytes: number;
  readonly cpuMs: number;
}

/** Rows of one operation at each concurrency, the 16 and 64 runs against the single one. */
function transferRows(operation: string, runs: ReadonlyMap<number, Transfer>): BenchRow[] {
  const MBps = (run: Transfer) => run.dataBytes / 1e6 / run.seconds;
  const single = runs.get(1)!;
  return CONCURRENCIES.flatMap((concurrency): BenchRow[] => {
    const run = runs.get(concurrency)!;
    const blocks = run.dataBytes / BLOCK;
    const name = `${operation} ${concurrency} in flight, ${LATENCY_MS} ms round trip`;
    return [
      { name: `${name}, blocks`, value: blocks / run.seconds, unit: 'blocks/s' },
      { name: `${name}, client CPU`, value: run.cpuMs / blocks, unit: 'ms/block' },
      concurrency === 1
        ? { name, value: MBps(run), unit: 'MB/s' }
        : throughputRow(
            name,
            MBps(run),
            { name: '1 in flight', MBps: MBps(single) },
            {
              atLeast: 4,
            },
          ),
    ];
  });
}

export const suite: BenchSuite = {
  name: 'ebs',
  async run(context) {
    const blocks = Math.max(64, Math.round(384 * context.scale));
    const { child, ready } = await startEmulatorProcess(context, blocks);
    try {
      const reads = new Map<number, Transfer>();
      const writes = new Map<number, Transfer>();
      for (const concurrency of CONCURRENCIES) {
        const read = await drainFullCycle(ready, concurrency);
        if (read.dataBytes !== blocks * BLOCK)
          throw new Error(`read ${read.dataBytes} bytes, expected ${blocks * BLOCK}`);
        reads.set(concurrency, read);
        writes.set(concurrency, await writeStagedEpoch(context, ready, blocks, concurrency));
        context.log(
          `${concurrency} in flight: ${(blocks / read.seconds).toFixed(0)} blocks/s read, ` +
            `${(blocks / writes.get(concurrency)!.seconds).toFixed(0)} written`,
        );
      }
      return [
        ...transferRows('GetSnapshotBlock', reads),
        ...transferRows('PutSnapshotBlock', writes),
      ];
    } finally {
      child.stdin!.end();
      await once(child, 'exit');
    }
  },
};
