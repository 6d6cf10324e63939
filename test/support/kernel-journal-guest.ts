/**
 * Runs inside the kernel module's VM (chrooted into the host's root over 9p): the
 * kernel-journal source with the real kjournal addon and extentlog module, publishing to
 * the broker and schema registry of the host (reached through qemu user networking at
 * 10.0.2.2). The broker advertises 127.0.0.1:<port>, so a small TCP relay on the guest's
 * 127.0.0.1:<port> forwards to the host.
 *
 *   node kernel-journal-guest.js <plan.json>    (plan: GuestPlan; result: GuestResult)
 *
 * The plan is a list of phases, each an exl-writer workload with or without a feed: with
 * one, the feed starts (its first cycle opens, FULL or resumed), the workload runs — after
 * the first consistency point committed, or at once — and the feed stops, which commits
 * its last point.
 */
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { promisify } from 'node:util';
import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import { destination, pino } from 'pino';
import { createLogClient } from '../../log/client-factory.js';
import { openKernelJournal } from '../../native/kjournal/index.js';
import { createFeed, type Feed, type FeedStatus } from '../../producers/feed.js';
import { createKernelJournalSource } from '../../producers/kernel-journal/kernel-journal-source.js';
import type { ChangeItem, ChangeSet, ChangeSource } from '../../producers/source.js';
import { createRecordCodec } from '../../schemas/record-codec.js';

const run = promisify(execFile);
const MiB = 1024 * 1024;

export interface GuestPlan {
  readonly brokerPort: number;
  readonly hostAddress: string;
  readonly registryUrl: string;
  readonly feed: string;
  readonly topic: string;
  readonly diskId: string;
  readonly journalPath: string;
  readonly cowStorePath: string;
  readonly device: string;
  readonly writer: string;
  readonly resultPath: string;
  readonly consistencyIntervalMs: number;
  readonly phases: readonly GuestPhase[];
}

export interface GuestPhase {
  readonly name: string;
  /** exl-writer arguments (key=value). */
  readonly writer: readonly string[];
  /** 'none': no feed runs; 'after-first-point': the workload waits for a committed point. */
  readonly feed: 'none' | 'after-first-point' | 'at-once';
}

export interface PhaseResult {
  readonly name: string;
  readonly writer: string;
  readonly status: FeedStatus | null;
  /** completedAt of each extent's last write → the SyncCommit of its epoch was durable. */
  readonly publishLatenciesMs: number[];
  readonly journal: Record<string, string>;
}

export interface GuestResult {
  readonly phases: PhaseResult[];
  readonly error: string | null;
}

/** Forwards 127.0.0.1:<port> to <host>:<port>. */
async function startRelay(port: number, host: string): Promise<net.Server> {
  const server = net.createServer((client) => {
    const upstream = net.connect(port, host);
    client.pipe(upstream).pipe(client);
    const close = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', close);
    upstream.on('error', close);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  return server;
}

/**
 * Wraps the source to measure the achieved RPO: for every extent, the time from its last
 * write's completion in the kernel to the moment its epoch's SyncCommit was durable.
 */
function measured(source: ChangeSource, latenciesMs: number[], onCommit: () => void): ChangeSource {
  return {
    kind: source.kind,
    disks: () => source.disks(),
    close: () => source.close(),
    async open(disk, since) {
      const inner = await source.open(disk, since);
      // completedAt of the extents of each consistency point, by its reference.
      const byPoint = new Map<string, bigint[]>();
      let current: bigint[] = [];
      const wrapped: ChangeSet = {
        disk: inner.disk,
        mode: inner.mode,
        reference: inner.reference,
        baseReference: inner.baseReference,
        ...(inner.rebaselineReason === undefined
          ? {}
          : { rebaselineReason: inner.rebaselineReason }),
        reader: inner.reader,
        async *changes(): AsyncGenerator<ChangeItem> {
          for await (const item of inner.changes()) {
            if (item.kind === 'consistency-point') {
              byPoint.set(item.reference, current);
              current = [];
            } else if (item.provenance?.journalSeq !== undefined) {
              current.push(item.completedAtNs ?? 0n);
            }
            yield item;
          }
        },
        commit: () => inner.commit(),
        abort: (reason) => inner.abort(reason),
        end: () => inner.end?.(),
        async commitConsistencyPoint(reference) {
          const nowNs = BigInt(Date.now()) * 1_000_000n;
          for (const completedNs of byPoint.get(reference) ?? [])
            latenciesMs.push(Number(nowNs - completedNs) / 1e6);
          byPoint.delete(reference);
          await inner.commitConsistencyPoint?.(reference);
          onCommit();
        },
      };
      return wrapped;
    },
  };
}

async function journalInfo(path: string): Promise<Record<string, string>> {
  const journal = await openKernelJournal(path);
  try {
    return Object.fromEntries(
      Object.entries(await journal.info()).map(([key, value]) => [key, String(value)]),
    );
  } finally {
    await journal.close();
  }
}

async function main(planPath: string): Promise<void> {
  const plan = JSON.parse(await readFile(planPath, 'utf8')) as GuestPlan;
  const logger = pino(
    { level: process.env.EXL_GUEST_LOG_LEVEL ?? 'info' },
    destination({ dest: `${plan.resultPath}.log`, sync: true }),
  );
  const phases: PhaseResult[] = [];
  let error: string | null = null;
  const relay = await startRelay(plan.brokerPort, plan.hostAddress);
  const log = await createLogClient({
    connection: { brokers: [`127.0.0.1:${plan.brokerPort}`], clientId: 'kjournal-guest' },
    logger,
    replicationFactor: 1,
  });
  try {
    const codec = createRecordCodec({
      registry: new SchemaRegistry({ host: plan.registryUrl }),
      subject: `${plan.topic}-value`,
    });
    await codec.register();
    const newFeed = (latenciesMs: number[], onCommit: () => void): Feed =>
      createFeed({
        name: plan.feed,
        topic: plan.topic,
        source: measured(
          createKernelJournalSource({
            disks: [
              {
                diskId: plan.diskId,
                journalPath: plan.journalPath,
                cowStorePath: plan.cowStorePath,
              },
            ],
            openJournal: openKernelJournal,
            intervalMs: plan.consistencyIntervalMs,
            logger,
          }),
          latenciesMs,
          onCommit,
        ),
        log,
        codec,
        logger,
        intervalMs: 500,
        heartbeatIntervalMs: 0,
        limits: { maxRecordBytes: MiB, minZeroRunBytes: 64 * 1024, readConcurrency: 4 },
        maxInFlightBytes: 32 * MiB,
        maxBatchBytes: 8 * MiB,
        diskConcurrency: 1,
        topicSpec: {
          retentionMs: -1,
          retentionBytes: -1,
          cleanupPolicy: 'delete',
          maxMessageBytes: 10 * MiB,
        },
      });
    const writer = async (args: readonly string[]) => {
      const { stdout, stderr } = await run(plan.writer, [plan.device, '/tmp/writer.log', ...args]);
      return `${stdout}${stderr}`.trim();
    };
    const withFeed = async (name: string, args: readonly string[], afterFirstPoint: boolean) => {
      const latenciesMs: number[] = [];
      let committed!: () => void;
      const firstPoint = new Promise<void>((resolve) => (committed = resolve));
      const feed = newFeed(latenciesMs, () => committed());
      await feed.start();
      if (afterFirstPoint) {
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([
          firstPoint,
          new Promise((_, reject) => {
            timer = setTimeout(
              () =>
                reject(
                  new Error(
                    `${name}: no consistency point within 240 s: ${JSON.stringify(feed.status())}`,
                  ),
                ),
              240_000,
            );
          }),
        ]).finally(() => clearTimeout(timer));
      }
      const output = await writer(args);
      await feed.stop();
      phases.push({
        name,
        writer: output,
        status: feed.status(),
        publishLatenciesMs: latenciesMs,
        journal: await journalInfo(plan.journalPath),
      });
    };
    for (const phase of plan.phases) {
      if (phase.feed !== 'none') {
        await withFeed(phase.name, phase.writer, phase.feed === 'after-first-point');
        continue;
      }
      phases.push({
        name: phase.name,
        writer: await writer(phase.writer),
        status: null,
        publishLatenciesMs: [],
        journal: await journalInfo(plan.journalPath),
      });
    }
  } catch (caught) {
    error = caught instanceof Error ? (caught.stack ?? caught.message) : String(caught);
  } finally {
    await log.close();
    relay.close();
    await writeFile(
      plan.resultPath,
      JSON.stringify({ phases, error } satisfies GuestResult, (_, value: unknown) =>
        typeof value === 'bigint' ? String(value) : value,
      ),
    );
  }
}

main(process.argv[2] ?? '').then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(
      `${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exit(1);
  },
);
