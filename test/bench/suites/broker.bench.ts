/**
 * The embedded broker's produce and consume throughput with 512 KiB records (acks=all),
 * loaded by several client processes so that the broker, not one client, is the limit;
 * compared with the raw sequential write speed of the same disk measured in the same run
 * (`dd bs=1M conv=fdatasync`). BENCH_PROFILE=1 writes a CPU profile of the broker.
 */
import { execFile, spawn } from 'node:child_process';
import path from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Kafka, logLevel } from 'kafkajs';
import { startBrokerProcess } from '../../support/broker-process.js';
import { MiB, throughputRow, type BenchContext, type BenchSuite } from '../harness.js';

const execFileAsync = promisify(execFile);
const loadClient = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '../broker-load-client.js',
);
const RECORD_BYTES = 512 * 1024;
const CLIENTS = Number(process.env.BENCH_BROKER_CLIENTS ?? '3');
const IN_FLIGHT = Number(process.env.BENCH_BROKER_IN_FLIGHT ?? '6');
const KAFKAJS_CLIENTS = 2;

interface ClientResult {
  bytes: number;
  startMs: number;
  endMs: number;
}

function runClient(args: readonly string[]): Promise<ClientResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [loadClient, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('exit', (code) =>
      code === 0
        ? resolve(JSON.parse(stdout) as ClientResult)
        : reject(new Error(`load client failed (${code}): ${stderr}`)),
    );
  });
}

/** Aggregate MB/s over all clients: total bytes over the span from first start to last end. */
function aggregateMBps(results: readonly ClientResult[]): number {
  const bytes = results.reduce((sum, r) => sum + r.bytes, 0);
  const spanMs =
    Math.max(...results.map((r) => r.endMs)) - Math.min(...results.map((r) => r.startMs));
  return bytes / 1e6 / (spanMs / 1000);
}

async function ddMBps(context: BenchContext, totalBytes: number): Promise<number> {
  const file = path.join(context.workDir, 'dd.bin');
  const count = Math.round(totalBytes / MiB);
  const started = process.hrtime.bigint();
  await execFileAsync('dd', [
    'if=/dev/zero',
    `of=${file}`,
    'bs=1M',
    `count=${count}`,
    'conv=fdatasync',
  ]);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  await execFileAsync('rm', ['-f', file]);
  return (count * MiB) / 1e6 / seconds;
}

export const suite: BenchSuite = {
  name: 'broker',
  async run(context) {
    const totalBytes = Math.round(1024 * MiB * context.scale);
    const perClientBytes = Math.ceil(totalBytes / CLIENTS / RECORD_BYTES) * RECORD_BYTES;
    // Flush what earlier suites left dirty so it does not drain into our measurements.
    await execFileAsync('sync');
    const ddBefore = await ddMBps(context, totalBytes);
    context.log(`dd: ${ddBefore.toFixed(0)} MB/s`);

    const profileArgs =
      process.env.BENCH_PROFILE === '1'
        ? ['--cpu-prof', `--cpu-prof-dir=${path.resolve('.tmp/profiles')}`]
        : [];
    const broker = await startBrokerProcess({
      dataDir: path.join(context.workDir, 'broker'),
      port: 0,
      args: ['--log-level', 'warn'],
      nodeArgs: profileArgs,
    });
    try {
      const admin = new Kafka({ brokers: [broker.address], logLevel: logLevel.NOTHING }).admin();
      await admin.connect();
      await admin.createTopics({
        topics: [
          {
            topic: 'bench',
            numPartitions: CLIENTS,
            configEntries: [{ name: 'max.message.bytes', value: String(16 * MiB) }],
          },
        ],
      });
      await admin.disconnect();

      const partitions = Array.from({ length: CLIENTS }, (_, p) => String(p));
      const produced = await Promise.all(
        partitions.map((p) =>
          runClient([
            'produce',
            broker.host,
            String(broker.port),
            'bench',
            p,
            String(perClientBytes),
            String(RECORD_BYTES),
            String(IN_FLIGHT),
          ]),
        ),
      );
      const produceMBps = aggregateMBps(produced);
      context.log(`produce: ${produceMBps.toFixed(0)} MB/s`);
      // dd again right after, on a disk in the same state; the peer value is the mean.
      const ddAfter = await ddMBps(context, totalBytes);
      context.log(`dd: ${ddAfter.toFixed(0)} MB/s`);
      const dd = (ddBefore + ddAfter) / 2;
      const consumed = await Promise.all(
        partitions.map((p) => runClient(['consume', broker.host, String(broker.port), 'bench', p])),
      );
      const consumeMBps = aggregateMBps(consumed);
      context.log(`consume: ${consumeMBps.toFixed(0)} MB/s`);
      // The same load through kafkajs, whose pure-JS CRC-32C makes each client the limit.
      const kafkajsBytes =
        Math.ceil(totalBytes / 4 / KAFKAJS_CLIENTS / RECORD_BYTES) * RECORD_BYTES;
      const viaKafkajs = await Promise.all(
        partitions
          .slice(0, KAFKAJS_CLIENTS)
          .map((p) =>
            runClient([
              'kafkajs-produce',
              broker.host,
              String(broker.port),
              'bench',
              p,
              String(kafkajsBytes),
              String(RECORD_BYTES),
              String(IN_FLIGHT),
            ]),
          ),
      );
      const kafkajsMBps = aggregateMBps(viaKafkajs);
      context.log(`kafkajs produce: ${kafkajsMBps.toFixed(0)} MB/s`);
      return [
        throughputRow(
          `produce 512 KiB records acks=all, ${CLIENTS} client processes`,
          produceMBps,
          { name: 'dd bs=1M conv=fdatasync', MBps: dd },
          { atLeast: 0.5 },
        ),
        throughputRow(
          `produce 512 KiB records acks=all, ${KAFKAJS_CLIENTS} kafkajs processes`,
          kafkajsMBps,
          { name: 'dd bs=1M conv=fdatasync', MBps: dd },
        ),
        throughputRow(
          `consume (Fetch v11), ${CLIENTS} client processes`,
          consumeMBps,
          { name: 'broker produce', MBps: produceMBps },
          { atLeast: 1 },
        ),
      ];
    } finally {
      process.kill(broker.pid, 'SIGTERM');
      await broker.exited;
    }
  },
};
