/**
 * The extentlog kernel module, measured inside one Debian guest under qemu (TCG, so only
 * ratios within the run mean anything): O_DIRECT writes on the raw virtio disk and through
 * the extentlog target (its journal drained by a reader), alternating per round — 1 MiB
 * sequential writes (target: under 10 % throughput loss) and 4 KiB random writes — and the
 * achieved RPO: the time from a write's completion in the kernel to the durable SyncCommit
 * of its epoch in the host's broker, with the kernel-journal source running in the guest.
 */
import { readFile, truncate, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { decodeWriterLog, type WriterOp } from '../../support/journal-workload.js';
import { buildVmImage } from '../../support/kernel-vm.js';
import { runNodeGuest } from '../../support/node-guest-vm.js';
import { startTestBroker } from '../../support/test-broker.js';
import { startTestRegistry } from '../../support/test-registry.js';
import { MiB, throughputRow, timeRow, type BenchRow, type BenchSuite } from '../harness.js';

const ROUNDS = 5;
const CONSISTENCY_INTERVAL_MS = 500;

function quantile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
}

function median(values: readonly number[]): number {
  return quantile(values, 0.5);
}

interface RunStats {
  readonly MBps: number;
  readonly latenciesSeconds: number[];
}

function statsOf(ops: readonly WriterOp[]): RunStats {
  const start = ops.reduce((min, op) => (op.startNs < min ? op.startNs : min), ops[0]!.startNs);
  const end = ops.reduce((max, op) => (op.endNs > max ? op.endNs : max), ops[0]!.endNs);
  const bytes = ops.reduce((sum, op) => sum + op.lengthBytes, 0);
  return {
    MBps: bytes / 1e6 / (Number(end - start) / 1e9),
    latenciesSeconds: ops.map((op) => Number(op.endNs - op.startNs) / 1e9),
  };
}

export const suite: BenchSuite = {
  name: 'kmod',
  async run(context): Promise<BenchRow[]> {
    const cleanups: (() => Promise<void>)[] = [];
    const cleanup = (fn: () => Promise<void>) => cleanups.push(fn);
    try {
      const image = await buildVmImage();
      const broker = await startTestBroker(cleanup);
      const registry = await startTestRegistry(cleanup);
      const vda = path.join(context.workDir, 'vda.img');
      const vdb = path.join(context.workDir, 'vdb.img');
      const diskBytes = Math.round(256 * context.scale) * MiB;
      await writeFile(vda, '');
      await truncate(vda, diskBytes);
      await writeFile(vdb, '');
      await truncate(vdb, 64 * MiB);
      const resultsDir = path.join(context.workDir, 'results');
      const seqOps = Math.max(32, Math.round((diskBytes / MiB) * 0.5));
      context.log(`booting the guest (${ROUNDS} rounds of ${seqOps} × 1 MiB, then the RPO run)`);
      const { vm, result: guestResult } = await runNodeGuest({
        image,
        name: 'kmod-bench',
        scenario: 'bench',
        env: {
          ROUNDS: String(ROUNDS),
          SEQ_ARGS: `threads=1 ops=${seqOps} sequential=1 min_bytes=1048576 max_bytes=1048576`,
          RAND_ARGS: 'threads=1 ops=300 seed=5 min_bytes=4096 max_bytes=4096',
        },
        disks: [vda, vdb],
        resultsDir,
        broker,
        registry,
        topic: 'kmodbench.kj.extents',
        consistencyIntervalMs: CONSISTENCY_INTERVAL_MS,
        phases: [
          {
            name: 'rpo',
            feed: 'after-first-point',
            writer: ['threads=1', 'ops=150', 'seed=11', 'pace_us=20000', 'dsync_every=3'],
          },
        ],
        timeoutMs: 600_000,
        cleanup,
      });
      if (vm.scenarioExit !== 0 || vm.kernelProblems.length > 0) {
        throw new Error(
          `the bench guest failed (exit ${vm.scenarioExit}; ${vm.kernelProblems.join('; ')}):\n${vm.scenarioLog}`,
        );
      }
      const load = async (file: string) =>
        statsOf(decodeWriterLog(await readFile(path.join(resultsDir, file))));
      const runs = {
        seq: { raw: [] as RunStats[], exl: [] as RunStats[] },
        rand: { raw: [] as RunStats[], exl: [] as RunStats[] },
      };
      for (let round = 1; round <= ROUNDS; round += 1) {
        for (const workload of ['seq', 'rand'] as const) {
          runs[workload].raw.push(await load(`${workload}-raw-${round}.bin`));
          runs[workload].exl.push(await load(`${workload}-exl-${round}.bin`));
        }
      }
      const mbps = (list: RunStats[]) => median(list.map((run) => run.MBps));
      const latency = (list: RunStats[], q: number) =>
        quantile(
          list.flatMap((run) => run.latenciesSeconds),
          q,
        );
      const result = await guestResult();
      if (result.error !== null) throw new Error(`the RPO run failed: ${result.error}`);
      const rpoMs = result.phases.flatMap((phase) => phase.publishLatenciesMs);
      return [
        throughputRow(
          'sequential 1 MiB O_DIRECT writes through the extentlog target (median of rounds)',
          mbps(runs.seq.exl),
          { name: 'the raw virtio disk', MBps: mbps(runs.seq.raw) },
          { atLeast: 0.9 },
        ),
        timeRow('1 MiB write latency p50', latency(runs.seq.exl, 0.5), {
          name: 'raw disk',
          seconds: latency(runs.seq.raw, 0.5),
        }),
        throughputRow(
          'random 4 KiB O_DIRECT writes through the extentlog target',
          mbps(runs.rand.exl),
          {
            name: 'the raw virtio disk',
            MBps: mbps(runs.rand.raw),
          },
        ),
        timeRow('4 KiB write latency p50', latency(runs.rand.exl, 0.5), {
          name: 'raw disk',
          seconds: latency(runs.rand.raw, 0.5),
        }),
        timeRow('4 KiB write latency p99', latency(runs.rand.exl, 0.99), {
          name: 'raw disk',
          seconds: latency(runs.rand.raw, 0.99),
        }),
        {
          name: `RPO: write completed → SyncCommit durable, p50 (points every ${CONSISTENCY_INTERVAL_MS} ms, TCG guest)`,
          value: quantile(rpoMs, 0.5),
          unit: 'ms',
        },
        { name: 'RPO p99', value: quantile(rpoMs, 0.99), unit: 'ms' },
        { name: 'RPO max', value: Math.max(...rpoMs), unit: 'ms' },
      ];
    } finally {
      for (const fn of cleanups.reverse()) await fn().catch(() => undefined);
    }
  },
};
