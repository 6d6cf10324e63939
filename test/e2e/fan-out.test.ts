/**
 * Fan-out: targets of one feed progress independently. A paused target falls behind and
 * catches up after resume; a target added later catches up from the log; and a target
 * added after retention removed the feed's first epoch asks the feed for a re-baseline over
 * the control channel, and converges on the FULL epoch that follows.
 */
import assert from 'node:assert/strict';
import { open, truncate } from 'node:fs/promises';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { parseConfig } from '../../bin/config/load-config.js';
import { extentsTopic, startRuntime, type Runtime } from '../../bin/runtime.js';
import { kafkajs } from '../../log/kafkajs/load-kafkajs.js';
import { startSchemaRegistry } from '../../log/registry/schema-registry.js';
import { eventually } from '../support/eventually.js';
import { patternBytes, sha256OfFile, writeAt } from '../support/image-files.js';
import { silentLogger } from '../support/silent-logger.js';
import {
  connectionTo,
  feedEntry,
  fileTargetEntry,
  MiB,
  SESSION_TIMEOUT_MS,
} from '../support/spine-configs.js';
import { tempDir, type TempDir } from '../support/temp-dir.js';
import { startTestBroker } from '../support/test-broker.js';

async function sourceImage(file: string): Promise<void> {
  await (await open(file, 'w')).close();
  await truncate(file, 16 * MiB);
  await writeAt(file, 0, patternBytes(4 * MiB, 1));
}

function restorePointEpoch(runtime: Runtime, target: string): number {
  const disk = runtime.replays
    .get(target)
    ?.status()
    .disks.find((entry) => entry.diskId === 'disk-0');
  if (disk?.lastError) throw new Error(`${target}: ${disk.lastError.message}`);
  return disk?.lastRestorePoint?.epoch ?? 0;
}

async function reaches(runtime: Runtime, target: string, epoch: number): Promise<void> {
  await eventually(
    `${target} at epoch ${epoch}`,
    () => (restorePointEpoch(runtime, target) >= epoch ? true : undefined),
    60_000,
  );
}

async function cycle(runtime: Runtime, source: string, seed: number): Promise<number> {
  if (seed > 0)
    await writeAt(source, (seed % 12) * MiB + 4096 * seed, patternBytes(MiB + 4096, seed));
  const [result] = await runtime.feeds.get('vm1')!.syncNow();
  assert.ok(result?.committed);
  return result.committed.epoch;
}

function targetPath(dir: TempDir, target: string): string {
  return path.join(dir.path, target, 'vm1-disk-0.img');
}

function config(
  dir: TempDir,
  source: string,
  targets: readonly string[],
  extra: Record<string, unknown> = {},
) {
  return parseConfig(
    {
      dataDir: path.join(dir.path, 'data'),
      sessionTimeoutMs: SESSION_TIMEOUT_MS,
      feeds: [feedEntry('vm1', [{ id: 'disk-0', path: source }], { maxRecordBytes: 256 * 1024 })],
      targets: targets.map((name) =>
        fileTargetEntry(name, ['vm1'], path.join(dir.path, name, '{feed}-{disk}.img')),
      ),
      ...extra,
    },
    'fan-out test',
  );
}

async function started(
  t: TestContext,
  runtimeConfig: ReturnType<typeof config>,
  options = {},
): Promise<Runtime> {
  const runtime = await startRuntime(runtimeConfig, silentLogger, options);
  t.after(() => runtime.close());
  return runtime;
}

test('a paused target falls behind, then catches up; a target added later catches up from the log', async (t) => {
  const dir = await tempDir(t, 'fan-out');
  const source = path.join(dir.path, 'source.img');
  await sourceImage(source);
  const runtime = await started(t, config(dir, source, ['a', 'b']));
  let epoch = await cycle(runtime, source, 0);
  await reaches(runtime, 'a', epoch);
  await reaches(runtime, 'b', epoch);

  runtime.replays.get('b')!.pause();
  const pausedAt = restorePointEpoch(runtime, 'b');
  for (const seed of [1, 2, 3]) {
    epoch = await cycle(runtime, source, seed);
    await reaches(runtime, 'a', epoch);
  }
  assert.equal(
    await sha256OfFile(targetPath(dir, 'a')),
    await sha256OfFile(source),
    'a follows the source',
  );
  assert.equal(restorePointEpoch(runtime, 'b'), pausedAt, 'b stays where it was paused');
  assert.ok(runtime.replays.get('b')!.status().paused);

  runtime.replays.get('b')!.resume();
  await reaches(runtime, 'b', epoch);
  assert.equal(await sha256OfFile(targetPath(dir, 'b')), await sha256OfFile(source), 'b caught up');

  // A target that joins now reads the whole feed from its first epoch.
  const late = await started(t, config(dir, source, ['late'], connectionTo(runtime)), {
    feeds: false,
    targets: true,
  });
  await reaches(late, 'late', epoch);
  assert.equal(
    await sha256OfFile(targetPath(dir, 'late')),
    await sha256OfFile(source),
    'the late target caught up',
  );
});

test('a target added after retention removed the first epoch asks for a re-baseline and converges', async (t) => {
  const dir = await tempDir(t, 'fan-out-expired');
  const broker = await startTestBroker((fn) => t.after(fn), { retentionIntervalMs: 100 });
  const registry = await startSchemaRegistry({ dataDir: path.join(dir.path, 'registry') });
  t.after(() => registry.close());
  // Small segments and a retention smaller than the history, larger than one FULL epoch.
  const admin = new kafkajs.Kafka({
    brokers: [broker.address],
    logLevel: kafkajs.logLevel.NOTHING,
  }).admin();
  await admin.connect();
  await admin.createTopics({
    topics: [
      {
        topic: extentsTopic('extentlog', 'vm1'),
        numPartitions: 1,
        configEntries: [
          { name: 'segment.bytes', value: String(512 * 1024) },
          { name: 'retention.bytes', value: String(7 * MiB) },
          { name: 'max.message.bytes', value: String(16 * MiB) },
        ],
      },
    ],
  });
  await admin.disconnect();
  const source = path.join(dir.path, 'source.img');
  await sourceImage(source);
  const connection = {
    kafka: { brokers: [broker.address], replicationFactor: 1 },
    schemaRegistry: { url: registry.url },
  };
  const producer = await started(t, config(dir, source, [], connection));
  for (const seed of [0, 1, 2, 3, 4, 5]) await cycle(producer, source, seed);
  // The broker removes whole segments past retention.bytes every retentionIntervalMs: wait
  // for the run after the last cycle (a loaded machine may not have had it yet).
  const kafka = new kafkajs.Kafka({
    brokers: [broker.address],
    logLevel: kafkajs.logLevel.NOTHING,
  }).admin();
  await kafka.connect();
  await eventually('retention to remove the oldest records', async () => {
    const [bounds] = await kafka.fetchTopicOffsets(extentsTopic('extentlog', 'vm1'));
    return Number(bounds!.low) > 0 ? true : undefined;
  });
  await kafka.disconnect();

  const late = await started(t, config(dir, source, ['late'], connection), {
    feeds: false,
    targets: true,
  });
  // The late target cannot apply what remains without its base: it asks the feed, which
  // answers with a FULL epoch that the target then replays.
  await eventually(
    'a re-baseline epoch',
    () => {
      const disk = producer.feeds.get('vm1')!.status().disks[0]!;
      return disk.lastCycle?.mode === 'FULL' &&
        (disk.lastCycle.rebaselineReason ?? '').includes('late')
        ? disk.lastCycle
        : undefined;
    },
    60_000,
  );
  const full = producer.feeds.get('vm1')!.status().disks[0]!.lastCommittedEpoch!;
  await reaches(late, 'late', full);
  assert.equal(
    await sha256OfFile(targetPath(dir, 'late')),
    await sha256OfFile(source),
    'the late target converged',
  );
});
