/**
 * EBS source reads: a FULL cycle of a volume whose blocks all hold data, drained the way the
 * feed reads it, at 1, 16 and 64 `GetSnapshotBlock` requests in flight — blocks/s and MB/s
 * of verified blocks. The emulator runs in its own process and answers after a fixed
 * round trip (a region's latency), so the rows show how the client scales with
 * concurrency; the 16 and 64 rows compare against the 1-in-flight run of the same moment.
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
import { createEbsSource } from '../../../producers/ebs/ebs-source.js';
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

export const suite: BenchSuite = {
  name: 'ebs-source',
  async run(context) {
    const blocks = Math.max(64, Math.round(384 * context.scale));
    const { child, ready } = await startEmulatorProcess(context, blocks);
    try {
      const results = new Map<
        number,
        { blocksPerSecond: number; MBps: number; cpuMsPerBlock: number }
      >();
      for (const concurrency of CONCURRENCIES) {
        const { seconds, dataBytes, cpuMs } = await drainFullCycle(ready, concurrency);
        if (dataBytes !== blocks * BLOCK)
          throw new Error(`read ${dataBytes} bytes, expected ${blocks * BLOCK}`);
        results.set(concurrency, {
          blocksPerSecond: blocks / seconds,
          MBps: dataBytes / 1e6 / seconds,
          cpuMsPerBlock: cpuMs / blocks,
        });
        context.log(`${concurrency} in flight: ${(blocks / seconds).toFixed(0)} blocks/s`);
      }
      const single = results.get(1)!;
      const rows: BenchRow[] = [];
      for (const concurrency of CONCURRENCIES) {
        const result = results.get(concurrency)!;
        const name = `GetSnapshotBlock ${concurrency} in flight, ${LATENCY_MS} ms round trip`;
        rows.push({ name: `${name}, blocks`, value: result.blocksPerSecond, unit: 'blocks/s' });
        rows.push({ name: `${name}, client CPU`, value: result.cpuMsPerBlock, unit: 'ms/block' });
        rows.push(
          concurrency === 1
            ? { name, value: result.MBps, unit: 'MB/s' }
            : throughputRow(
                name,
                result.MBps,
                { name: '1 in flight', MBps: single.MBps },
                {
                  atLeast: 4,
                },
              ),
        );
      }
      return rows;
    } finally {
      child.stdin!.end();
      await once(child, 'exit');
    }
  },
};
