/**
 * The kernel-journal source in the real feed runtime, on the embedded broker, over an
 * in-memory journal (test/support/fake-kernel-journal.ts, wall-clock mode): consistency
 * points commit while the disk goes quiet, stopping the feed commits the last one, an
 * overflow while no feed runs re-baselines the next one, and a file target replaying the
 * topic ends equal to the disk (sha256).
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { parseConfig } from '../../bin/config/load-config.js';
import { startRuntime } from '../../bin/runtime.js';
import { createLogClient } from '../../log/client-factory.js';
import { createFeed, type Feed } from '../../producers/feed.js';
import { createKernelJournalSource } from '../../producers/kernel-journal/kernel-journal-source.js';
import type { ExtentlogRecord } from '../../schemas/extentlog-record.js';
import { createRecordCodec, type RecordCodec } from '../../schemas/record-codec.js';
import { FakeKernelJournal } from '../support/fake-kernel-journal.js';
import { sha256OfFile } from '../support/image-files.js';
import { silentLogger } from '../support/silent-logger.js';
import { eventually, startTestBroker } from '../support/test-broker.js';
import { startTestRegistry } from '../support/test-registry.js';
import { tempDir } from '../support/temp-dir.js';
import { createHash } from 'node:crypto';

const KiB = 1024;
const MiB = 1024 * KiB;
const TOPIC = 'kjfake.kj.extents';

function pattern(length: number, seed: number): Buffer {
  const data = Buffer.alloc(length);
  for (let index = 0; index < length; index += 1) data[index] = (seed * 13 + index * 5) & 0xff;
  return data;
}

test('a kernel-journal feed streams epochs, stops on a committed point, re-baselines after an overflow; the replay equals the disk', async (t) => {
  const broker = await startTestBroker((fn) => t.after(fn));
  const registry = await startTestRegistry((fn) => t.after(fn));
  const dir = await tempDir(t, 'kjournal-feed');
  const fake = new FakeKernelJournal(4 * MiB, 128, { realTime: true });
  pattern(4 * MiB, 1).copy(fake.disk);
  const log = await createLogClient({
    connection: { brokers: [broker.address], clientId: 'kjournal-feed-test' },
    logger: silentLogger,
    replicationFactor: 1,
  });
  dir.beforeRemoval(() => log.close());
  const codec: RecordCodec = createRecordCodec({
    registry: registry.client(),
    subject: `${TOPIC}-value`,
  });
  await codec.register();
  const newFeed = (): Feed =>
    createFeed({
      name: 'kj',
      topic: TOPIC,
      source: createKernelJournalSource({
        disks: [{ diskId: 'd0', journalPath: '/dev/extentlog/j0', cowStorePath: '/cow' }],
        openJournal: fake.open,
        intervalMs: 100,
        maxExtentBytes: 256 * KiB,
        logger: silentLogger,
      }),
      log,
      codec,
      logger: silentLogger,
      intervalMs: 200,
      heartbeatIntervalMs: 0,
      limits: { maxRecordBytes: 256 * KiB, minZeroRunBytes: 64 * KiB, readConcurrency: 4 },
      maxInFlightBytes: 8 * MiB,
      maxBatchBytes: 2 * MiB,
      diskConcurrency: 1,
      topicSpec: {
        retentionMs: -1,
        retentionBytes: -1,
        cleanupPolicy: 'delete',
        maxMessageBytes: 4 * MiB,
      },
    });
  const records = async (): Promise<ExtentlogRecord[]> => {
    const found: ExtentlogRecord[] = [];
    for await (const message of log.readRange({ topic: TOPIC, partition: 0, fromOffset: 0 }))
      found.push(await codec.decode(message.value!));
    return found;
  };
  /** Waits until a SyncCommit covers every record the journal holds now. */
  const committedUpToHead = async () => {
    const head = fake.head;
    await eventually(
      `a SyncCommit at or past journal position ${head}`,
      async () => {
        const commits = (await records()).filter((record) => record.type === 'sync-commit');
        return commits.some(
          (record) =>
            record.type === 'sync-commit' &&
            BigInt(record.sourceReference.split(':')[2] ?? -1) >= head,
        )
          ? true
          : undefined;
      },
      20_000,
    );
  };

  const first = newFeed();
  await first.start();
  for (let round = 0; round < 3; round += 1) {
    for (let index = 0; index < 20; index += 1)
      fake.write(
        ((round * 20 + index) * 48 * KiB) % (4 * MiB - 64 * KiB),
        pattern(8 * KiB + index * 512, round * 100 + index),
        index % 5 === 0,
      );
    fake.zero(round * MiB, 64 * KiB);
    fake.flush();
    await committedUpToHead(); // points commit although the disk went quiet
  }
  fake.write(3 * MiB, pattern(12 * KiB, 999));
  await first.stop(); // commits the last point
  const lastCommit = (await records()).filter((record) => record.type === 'sync-commit').at(-1);
  assert.ok(lastCommit?.type === 'sync-commit');
  const lastPoint = BigInt(lastCommit.sourceReference.split(':')[2] ?? -1);
  assert.ok(lastPoint >= fake.head - 2n, 'the stop committed the last write');
  assert.equal(fake.tail, lastPoint, 'acknowledged up to the last point');

  for (let index = 0; index < 300; index += 1)
    fake.write((index * 8 * KiB) % (4 * MiB), pattern(4 * KiB, 5000 + index));
  assert.ok(fake.lostTotal > 0n, 'the ring overflowed while no feed ran');
  const second = newFeed();
  await second.start();
  // The re-baseline releases the full ring at once, so writes while it runs fit.
  for (let index = 0; index < 40; index += 1)
    fake.write(2 * MiB + index * 4 * KiB, pattern(1024, 4242 + index));
  await committedUpToHead();
  await second.stop();

  const all = await records();
  all.forEach((record, index) => assert.equal(record.seq, index, 'seq without gaps'));
  const fulls = all.filter((record) => record.type === 'sync-begin' && record.mode === 'FULL');
  assert.equal(
    fulls.length,
    2,
    JSON.stringify(
      all.filter((r) => r.type !== 'extent'),
      (_, v: unknown) => (typeof v === 'bigint' ? String(v) : v),
    ),
  );
  assert.match(
    fulls[1]?.type === 'sync-begin' ? (fulls[1].rebaselineReason ?? '') : '',
    /overflowed after the committed position/,
  );

  const runtime = await startRuntime(
    parseConfig(
      {
        dataDir: path.join(dir.path, 'data'),
        topicPrefix: 'kjfake',
        kafka: { brokers: [broker.address], replicationFactor: 1 },
        schemaRegistry: { url: registry.url },
        feeds: [
          {
            name: 'kj',
            source: {
              type: 'kernel-journal',
              disks: [{ id: 'd0', journal: '/dev/extentlog/j0', cowStore: '/cow' }],
            },
          },
        ],
        targets: [
          {
            type: 'file',
            name: 'mirror',
            feeds: ['kj'],
            path: path.join(dir.path, '{feed}-{disk}.img'),
            flushIntervalMs: 50,
          },
        ],
      },
      'test config',
    ),
    silentLogger,
    { feeds: false },
  );
  dir.beforeRemoval(() => runtime.close());
  const lastEpoch = Math.max(...all.filter((r) => r.type === 'sync-commit').map((r) => r.epoch));
  await eventually(`restore point of epoch ${lastEpoch}`, () => {
    const status = runtime.replays.get('mirror')!.status().disks[0];
    if (status?.lastError) throw new Error(status.lastError.message);
    return (status?.lastRestorePoint?.epoch ?? 0) >= lastEpoch ? true : undefined;
  });
  assert.equal(
    await sha256OfFile(path.join(dir.path, 'kj-d0.img')),
    createHash('sha256').update(fake.disk).digest('hex'),
  );
});
