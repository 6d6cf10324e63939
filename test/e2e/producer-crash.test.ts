/**
 * The feed survives SIGKILL mid-epoch: the feed runs in a child process that is killed while
 * it publishes a FULL or an INCREMENTAL epoch, then restarted; this process runs the broker
 * and a file target's replay. After each restart the next epoch supersedes the aborted one
 * (its SyncBegin follows the aborted records, it re-sends every range they touched) and the
 * target converges on the source (sha256) at its restore point.
 *
 * The nasty case: an aborted incremental wrote new bytes of a block to the target, and the
 * block reverts on the source to its committed content before the next cycle. The source
 * sees no change there; only the aborted range, read back from the log, makes the next epoch
 * send the block again.
 */
import assert from 'node:assert/strict';
import { mkdir, open, readFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { parseConfig } from '../../bin/config/load-config.js';
import { extentsTopic, startRuntime, type Runtime } from '../../bin/runtime.js';
import { readDiskPosition } from '../../producers/feed-position.js';
import { RangeSet } from '../../producers/range-set.js';
import { createRecordCodec } from '../../schemas/record-codec.js';
import type { ExtentlogRecord } from '../../schemas/extentlog-record.js';
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
import { readPartition, startSpineChild, type SpineChild } from '../support/spine-processes.js';

const DISK_BYTES = 32 * MiB;
const TOPIC = extentsTopic('extentlog', 'vm1');

async function waitForRestorePoint(parent: Runtime, epoch: number) {
  return eventually(
    `the target's restore point of epoch ${epoch}`,
    () => {
      const disk = parent.replays
        .get('mirror')!
        .status()
        .disks.find((entry) => entry.diskId === 'disk-0');
      if (disk?.lastError) throw new Error(`the replay stopped: ${disk.lastError.message}`);
      return (disk?.lastRestorePoint?.epoch ?? 0) >= epoch ? disk!.lastRestorePoint! : undefined;
    },
    60_000,
  );
}

test('a feed killed with SIGKILL mid-epoch is superseded by its next epoch and the target converges', async (t) => {
  const seed = Number(process.env.EXTENTLOG_CRASH_SEED ?? Date.now() % 1_000_000);
  t.diagnostic(`seed ${seed} (EXTENTLOG_CRASH_SEED=${seed} replays this run)`);
  const random = seededRandom(seed);
  const dir = await tempDir(t, 'producer-crash');
  const sourcePath = path.join(dir.path, 'source.img');
  await (await open(sourcePath, 'w')).close();
  const handle = await open(sourcePath, 'r+');
  await handle.truncate(DISK_BYTES);
  await handle.close();
  await writeAt(sourcePath, 0, patternBytes(20 * MiB, seed));

  const feed = feedEntry('vm1', [{ id: 'disk-0', path: sourcePath }]);
  const targetPath = path.join(dir.path, 'target', 'vm1-disk-0.img');
  const target = fileTargetEntry(
    'mirror',
    ['vm1'],
    path.join(dir.path, 'target', '{feed}-{disk}.img'),
  );
  const parent = await startRuntime(
    parseConfig(
      { dataDir: path.join(dir.path, 'parent'), feeds: [feed], targets: [target] },
      'parent config',
    ),
    silentLogger,
    { feeds: false },
  );
  dir.beforeRemoval(() => parent.close());
  const codec = createRecordCodec({ registry: parent.registry, subject: `${TOPIC}-value` });
  await mkdir(path.join(dir.path, 'children'), { recursive: true });
  let children = 0;
  const startFeed = () => {
    const index = children++;
    return startSpineChild(
      {
        role: 'feed',
        logPath: path.join(dir.path, 'children', `feed-${index}.log`),
        config: {
          dataDir: path.join(dir.path, 'feed-state'),
          sessionTimeoutMs: SESSION_TIMEOUT_MS,
          ...connectionTo(parent),
          feeds: [feed],
        },
      },
      path.join(dir.path, 'children', `feed-${index}.json`),
      (kill) => dir.beforeRemoval(kill),
    );
  };
  const endOffset = async () =>
    (await parent.log.admin.listTopics()).includes(TOPIC)
      ? ((await parent.log.admin.offsets(TOPIC)).find((entry) => entry.partition === 0)
          ?.endOffset ?? 0)
      : 0;
  const records = async () => {
    const decoded: { offset: number; record: ExtentlogRecord }[] = [];
    for (const message of await readPartition(parent.log, TOPIC, 0))
      decoded.push({ offset: message.offset, record: await codec.decode(message.value!) });
    return decoded;
  };

  /**
   * Starts a cycle in a fresh feed process and kills it once `killWhen` holds (the cycle still
   * running); returns what the log says the aborted epoch touched.
   */
  const abortCycle = async (label: string, killWhen: (startOffset: number) => Promise<boolean>) => {
    const startOffset = await endOffset();
    const child: SpineChild = await startFeed();
    const syncing = child.sync().then(
      () => 'committed',
      () => 'killed',
    );
    await eventually(`${label}: the moment to kill the feed`, () =>
      killWhen(startOffset).then((now) => (now ? true : undefined)),
    );
    await child.kill();
    assert.equal(await syncing, 'killed', `${label}: the feed was killed before its SyncCommit`);
    const position = await readDiskPosition({
      log: parent.log,
      decoder: codec,
      topic: TOPIC,
      partition: 0,
      diskId: 'disk-0',
    });
    assert.ok(position.uncommitted.epochs.length > 0, `${label}: the log holds an aborted epoch`);
    return position;
  };

  /** Runs the next cycle in a fresh feed process; checks it supersedes the aborted epochs. */
  const recover = async (label: string, aborted: Awaited<ReturnType<typeof abortCycle>>) => {
    const child = await startFeed();
    const [epoch] = await child.sync();
    await child.stop();
    assert.ok(typeof epoch === 'number', `${label}: the next cycle committed`);
    const log = await records();
    const abortedOffsets = log
      .filter(({ record }) => aborted.uncommitted.epochs.includes(record.epoch))
      .map(({ offset }) => offset);
    const begin = log.find(({ record }) => record.type === 'sync-begin' && record.epoch === epoch);
    assert.ok(begin, `${label}: the log holds the SyncBegin of epoch ${epoch}`);
    assert.ok(
      begin.offset > Math.max(...abortedOffsets),
      `${label}: epoch ${epoch} begins after the aborted epoch's records`,
    );
    assert.ok(epoch > Math.max(...aborted.uncommitted.epochs), `${label}: a higher epoch`);
    const mode = begin.record.type === 'sync-begin' ? begin.record.mode : null;
    if (aborted.uncommitted.full) assert.equal(mode, 'FULL', `${label}: an aborted FULL → FULL`);
    else {
      const sent = new RangeSet();
      for (const { record } of log)
        if (record.type === 'extent' && record.epoch === epoch) sent.add(record);
      assert.deepEqual(
        [...aborted.uncommitted.ranges.difference(sent)],
        [],
        `${label}: epoch ${epoch} re-sends every range of the aborted epoch`,
      );
    }
    await waitForRestorePoint(parent, epoch);
    assert.equal(
      await sha256OfFile(targetPath),
      await sha256OfFile(sourcePath),
      `${label}: the target equals the source at epoch ${epoch}`,
    );
    return epoch;
  };

  const afterRecords = (count: number) => async (startOffset: number) =>
    (await endOffset()) >= startOffset + count;

  // Two FULL epochs aborted in a row, then one that commits.
  let aborted = await abortCycle('FULL 1', afterRecords(2 + Math.floor(random() * 100)));
  assert.equal(aborted.uncommitted.full, true);
  aborted = await abortCycle('FULL 2', afterRecords(2 + Math.floor(random() * 100)));
  await recover('FULL', aborted);

  // Incrementals aborted at random points of their epochs.
  for (let trial = 0; trial < 3; trial += 1) {
    for (let change = 0; change < 3; change += 1) {
      const offsetBytes = Math.floor(random() * (DISK_BYTES / MiB - 2)) * MiB;
      await writeAt(sourcePath, offsetBytes, patternBytes(2 * MiB, seed + 100 * trial + change));
    }
    // Keeps the epoch going well past the kill point, however slow the machine is.
    await writeAt(sourcePath, 8 * MiB, patternBytes(16 * MiB, seed + 100 * trial + 50));
    aborted = await abortCycle(`INCREMENTAL ${trial}`, afterRecords(2 + Math.floor(random() * 60)));
    await recover(`INCREMENTAL ${trial}`, aborted);
  }

  // The nasty case: block X changes, the aborted epoch writes it to the target, X reverts.
  const blockX = 4 * MiB + 8 * KiB;
  const committedX = (await readFile(sourcePath)).subarray(blockX, blockX + 4 * KiB);
  const changedX = patternBytes(4 * KiB, seed + 999);
  await writeAt(sourcePath, blockX, changedX);
  await writeAt(sourcePath, 8 * MiB, patternBytes(20 * MiB, seed + 998)); // keeps the epoch going
  const targetHolds = async (expected: Buffer) => {
    const file = await open(targetPath, 'r');
    try {
      const { buffer } = await file.read(Buffer.alloc(expected.length), 0, expected.length, blockX);
      return buffer.equals(expected);
    } finally {
      await file.close();
    }
  };
  aborted = await abortCycle('revert', () => targetHolds(changedX));
  assert.equal(aborted.uncommitted.full, false);
  await writeAt(sourcePath, blockX, committedX);
  await recover('revert', aborted);
  assert.ok(await targetHolds(committedX), 'the target holds the reverted block');
  t.diagnostic(`${children} feed processes`);
});
