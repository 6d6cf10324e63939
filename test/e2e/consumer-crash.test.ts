/**
 * The replay survives SIGKILL at any moment: a file target's replay runs in a child process
 * that is killed again and again (mid-epoch, while it rewinds, while the feed produces) and
 * restarted, while this process runs the broker and the feed over a changing source image.
 *
 * Checked at the end:
 * - the target equals the source (sha256) at the latest restore point;
 * - no restore point was announced early: the child hashes the image at every commitEpoch
 *   (after the flush, before publishing), and every restore point on the restore-points topic
 *   has such a hash, equal to the source's hash at that epoch;
 * - the crashes never cost a re-baseline (no request on the control topic): a restart rolls
 *   the open epoch forward from the log.
 */
import assert from 'node:assert/strict';
import { mkdir, open, readFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { parseConfig } from '../../bin/config/load-config.js';
import { extentsTopic, replayGroupId, startRuntime } from '../../bin/runtime.js';
import { controlTopic } from '../../log/control-channel.js';
import { eventually } from '../support/eventually.js';
import { patternBytes, sha256OfFile, writeAt } from '../support/image-files.js';
import { silentLogger } from '../support/silent-logger.js';
import { tempDir } from '../support/temp-dir.js';
import {
  connectionTo,
  feedEntry,
  fileTargetEntry,
  KiB,
  MiB,
  SESSION_TIMEOUT_MS,
  seededRandom,
} from '../support/spine-configs.js';
import {
  readCommitHashes,
  readPartition,
  startSpineChild,
  type SpineChild,
} from '../support/spine-processes.js';

const TRIALS = 20;
const DISK_BYTES = 32 * MiB;

test('a replay killed with SIGKILL at random moments converges and never announces early', async (t) => {
  const seed = Number(process.env.EXTENTLOG_CRASH_SEED ?? Date.now() % 1_000_000);
  t.diagnostic(`seed ${seed} (EXTENTLOG_CRASH_SEED=${seed} replays this run)`);
  const random = seededRandom(seed);
  const dir = await tempDir(t, 'consumer-crash');
  const sourcePath = path.join(dir.path, 'source.img');
  await (await open(sourcePath, 'w')).close();
  const handle = await open(sourcePath, 'r+');
  await handle.truncate(DISK_BYTES);
  await handle.close();
  await writeAt(sourcePath, 0, patternBytes(12 * MiB, seed));

  const feed = feedEntry('vm1', [{ id: 'disk-0', path: sourcePath }]);
  const parent = await startRuntime(
    parseConfig({ dataDir: path.join(dir.path, 'parent'), feeds: [feed] }, 'parent config'),
    silentLogger,
  );
  dir.beforeRemoval(() => parent.close());
  const topic = extentsTopic('extentlog', 'vm1');
  const groupId = replayGroupId('extentlog', 'mirror');
  const targetPath = path.join(dir.path, 'target', 'vm1-disk-0.img');
  await mkdir(path.join(dir.path, 'children'), { recursive: true });
  const hashLog = path.join(dir.path, 'commit-hashes.jsonl');
  const spec = (index: number) => ({
    role: 'targets' as const,
    logPath: path.join(dir.path, 'children', `consumer-${index}.log`),
    hashLog,
    config: {
      dataDir: path.join(dir.path, 'child'),
      sessionTimeoutMs: SESSION_TIMEOUT_MS,
      ...connectionTo(parent),
      feeds: [feed],
      targets: [
        fileTargetEntry('mirror', ['vm1'], path.join(dir.path, 'target', '{feed}-{disk}.img')),
      ],
    },
  });
  let children = 0;
  const startConsumer = () =>
    startSpineChild(
      spec(children),
      path.join(dir.path, 'children', `consumer-${children++}.json`),
      (kill) => dir.beforeRemoval(kill),
    );

  const committedOffset = async () => {
    const offsets = await parent.log.admin.groupOffsets(groupId, topic);
    return offsets.partitions.find((entry) => entry.partition === 0)?.offset ?? -1;
  };
  const endOffset = async () =>
    (await parent.log.admin.offsets(topic)).find((entry) => entry.partition === 0)?.endOffset ?? 0;

  const sourceAt = new Map<number, string>();
  const vm1 = parent.feeds.get('vm1')!;
  let consumer: SpineChild = await startConsumer();
  for (let trial = 0; trial < TRIALS; trial += 1) {
    if (trial > 0) {
      // A few MiB of changes at random block-aligned places, some of them zeros.
      for (let change = 0; change < 4; change += 1) {
        const offsetBytes = Math.floor(random() * (DISK_BYTES / (4 * KiB) - 256)) * 4 * KiB;
        const lengthBytes = (1 + Math.floor(random() * 256)) * 4 * KiB;
        const data =
          change === 3
            ? Buffer.alloc(lengthBytes)
            : patternBytes(lengthBytes, seed + trial * 7 + change);
        await writeAt(sourcePath, offsetBytes, data);
      }
    }
    if (trial === 10) vm1.requestRebaseline('disk-0', 'a FULL epoch in the middle of the crashes');
    const before = Math.max(0, await committedOffset());
    const cycle = vm1.syncNow(['disk-0']);
    // Kill once the replay has committed past a random point of what it has yet to read
    // (often mid-epoch), or right away on some trials (while it starts and rewinds).
    const killAt = random() < 0.2 ? before : before + 1 + Math.floor(random() * 80);
    let cycleDone = false;
    void cycle.then(
      () => (cycleDone = true),
      () => (cycleDone = true),
    );
    await eventually(
      `trial ${trial}: the replay passes offset ${killAt}`,
      async () => {
        const committed = await committedOffset();
        if (committed >= killAt) return true;
        if (cycleDone && committed >= (await endOffset())) return true;
        return undefined;
      },
      60_000,
    );
    await consumer.kill();
    const [result] = await cycle;
    assert.ok(result?.committed, `trial ${trial}: the cycle committed`);
    sourceAt.set(result.committed.epoch, await sha256OfFile(sourcePath));
    consumer = await startConsumer();
  }

  const lastEpoch = Math.max(...sourceAt.keys());
  await eventually(
    `the restore point of epoch ${lastEpoch}`,
    async () => {
      const point = (await parent.restorePoints()).get('mirror/vm1/disk-0');
      return point !== undefined && point.epoch >= lastEpoch ? point : undefined;
    },
    60_000,
  );
  await consumer.stop();
  const control = await readPartition(parent.log, controlTopic('extentlog'), 0);
  assert.deepEqual(
    control.map((message) => message.value?.toString()),
    [],
    'no crash made the target ask for a re-baseline',
  );
  assert.equal(
    await sha256OfFile(targetPath),
    sourceAt.get(lastEpoch),
    'the target equals the source at the latest restore point',
  );

  const hashes = await readCommitHashes(hashLog);
  for (const entry of hashes) {
    assert.equal(
      entry.sha256,
      sourceAt.get(entry.epoch),
      `the image held epoch ${entry.epoch} when its restore point was sealed`,
    );
  }
  const announced = await readPartition(parent.log, parent.restorePointsTopic, 0);
  assert.ok(announced.length >= TRIALS, `${announced.length} restore points were announced`);
  for (const message of announced) {
    const point = await parent.restorePointCodec.decode(message.value!);
    assert.ok(
      hashes.some((entry) => entry.epoch === point.epoch),
      `restore point of epoch ${point.epoch} was announced after the image held it`,
    );
  }
  let rewinds = 0;
  for (let index = 0; index < children; index += 1) {
    const log = await readFile(path.join(dir.path, 'children', `consumer-${index}.log`), 'utf8');
    rewinds += log.split('rewinding to the open epoch').length - 1;
  }
  t.diagnostic(`${children} consumers, ${rewinds} rewinds, ${announced.length} restore points`);
  assert.ok(rewinds > 0, 'some kills landed mid-epoch (a restart rolled an open epoch forward)');
});
