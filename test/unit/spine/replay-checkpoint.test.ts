/**
 * The replay engine's offset commits, with in-memory fakes of the log and the target: an
 * offset is committed only once every record below it is durable (the target's flush
 * resolved), never past a record of a stopped disk, and with the open epoch's SyncBegin
 * offset as rewind metadata.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type {
  ConsumedBatch,
  ConsumerHandlers,
  LogClient,
  LogConsumer,
  TopicPartitionOffset,
} from '../../../log/log-client.js';
import { createEpochDigest } from '../../../schemas/epoch-digest.js';
import { extentCrc32c } from '../../../schemas/extent-crc.js';
import type { ExtentlogRecord, ExtentRecord } from '../../../schemas/extentlog-record.js';
import { createReplay } from '../../../consumers/replay.js';
import type { ApplyExtent, Target, TargetDisk } from '../../../consumers/target.js';
import { eventually } from '../../support/eventually.js';
import { FakeCodec } from '../../support/fake-log.js';
import { silentLogger } from '../../support/silent-logger.js';

const TOPIC = 'extentlog.vm1.extents';

class FakeConsumer implements LogConsumer {
  handlers: ConsumerHandlers | null = null;
  readonly commits: TopicPartitionOffset[] = [];
  async run(handlers: ConsumerHandlers): Promise<void> {
    this.handlers = handlers;
  }
  pause(): void {}
  resume(): void {}
  async commit(offsets: readonly TopicPartitionOffset[]): Promise<void> {
    this.commits.push(...offsets);
  }
  seek(): void {}
  async stop(): Promise<void> {}
}

/** A target whose flush waits until the test releases it. */
class GatedTarget implements Target {
  readonly kind = 'gated';
  readonly applied: ApplyExtent[] = [];
  flushes = 0;
  #release: (() => void) | null = null;
  gate = false;
  release(): void {
    this.#release?.();
    this.#release = null;
  }
  async openDisk(): Promise<TargetDisk> {
    return {
      beginEpoch: async () => undefined,
      apply: async (extent) => void this.applied.push(extent),
      flush: async () => {
        if (this.gate) await new Promise<void>((resolve) => (this.#release = resolve));
        this.flushes += 1;
      },
      commitEpoch: async () => ({}),
      close: async () => undefined,
    };
  }
  async close(): Promise<void> {}
}

function records(
  disk: string,
  epoch: number,
  firstSeq: number,
  extents: number,
): ExtentlogRecord[] {
  const out: ExtentlogRecord[] = [];
  let seq = firstSeq;
  out.push({
    type: 'sync-begin',
    feed: 'vm1',
    disk,
    epoch,
    seq: seq++,
    mode: 'FULL',
    diskSizeBytes: 1 << 20,
    blockSizeBytes: 4096,
    sourceReference: 'ref',
    baseEpoch: null,
    baseReference: null,
    rebaselineReason: null,
    startedAtMs: 1,
  });
  const digest = createEpochDigest(epoch);
  for (let index = 0; index < extents; index += 1) {
    const fields = {
      epoch,
      seq: seq++,
      offsetBytes: index * 4096,
      lengthBytes: 4096,
      op: 'WRITE' as const,
      data: Buffer.alloc(4096, index + 1),
    };
    const extent: ExtentRecord = {
      type: 'extent',
      feed: 'vm1',
      disk,
      ...fields,
      crc32c: extentCrc32c(fields),
      issuedAtNs: 1n,
      completedAtNs: 1n,
      provenance: { changeId: null, snapshotId: null, journalSeq: null },
    };
    digest.add(extent);
    out.push(extent);
  }
  out.push({
    type: 'sync-commit',
    feed: 'vm1',
    disk,
    epoch,
    seq: seq++,
    extentCount: extents,
    dataBytes: extents * 4096,
    digest: digest.hex(),
    sourceReference: 'ref',
    consistency: 'CRASH_CONSISTENT',
    committedAtMs: 2,
  });
  return out;
}

function setUp() {
  const codec = new FakeCodec();
  const consumer = new FakeConsumer();
  const target = new GatedTarget();
  const published: string[] = [];
  const unsupported = () => Promise.reject(new Error('not in the fake'));
  const log: LogClient = {
    admin: {
      ensureTopic: unsupported,
      deleteTopic: unsupported,
      listTopics: async () => [TOPIC],
      offsets: unsupported,
      listGroups: unsupported,
      groupOffsets: async (groupId, topic) => ({ groupId, topic, partitions: [] }),
    },
    producer: unsupported,
    consumer: async () => consumer,
    readRange: () => {
      throw new Error('not in the fake');
    },
    close: async () => undefined,
  };
  const replay = createReplay({
    targetName: 'mirror',
    target,
    log,
    decoder: codec,
    feeds: [{ feed: 'vm1', topic: TOPIC }],
    groupId: 'g',
    restorePoints: {
      publish: async (point) => void published.push(`${point.disk}@${point.epoch}`),
      close: async () => undefined,
    },
    lastRestorePoints: new Map(),
    requestRebaseline: () => undefined,
    flushIntervalMs: 60_000,
    logger: silentLogger,
  });
  let offset = 0;
  const batch = (recs: readonly ExtentlogRecord[]): ConsumedBatch => ({
    topic: TOPIC,
    partition: 0,
    highWatermark: offset + recs.length,
    messages: recs.map((record) => ({
      topic: TOPIC,
      partition: 0,
      offset: offset++,
      key: Buffer.from(record.disk),
      value: codec.encode(record),
      headers: {},
      timestampMs: 0,
    })),
  });
  return { consumer, target, replay, published, batch };
}

test('a SyncCommit is sealed, announced and committed only after the flush resolved', async () => {
  const { consumer, target, replay, published, batch } = setUp();
  await replay.start();
  await eventually('the consumer runs', () => consumer.handlers ?? undefined);
  target.gate = true;
  const epoch = records('a', 1, 0, 3); // offsets 0..4
  const handled = consumer.handlers!.onBatch(batch(epoch));
  await eventually('the flush is waiting', () => (target.applied.length === 3 ? true : undefined));
  assert.deepEqual(consumer.commits, [], 'nothing committed while the flush runs');
  assert.deepEqual(published, [], 'no restore point before the data is durable');
  target.release();
  await handled;
  assert.deepEqual(published, ['a@1']);
  assert.deepEqual(consumer.commits.at(-1), {
    topic: TOPIC,
    partition: 0,
    offset: 5,
    metadata: '',
  });
});

test('mid-epoch commits carry the SyncBegin offset as rewind metadata', async () => {
  const { consumer, replay, batch } = setUp();
  await replay.start();
  await eventually('the consumer runs', () => consumer.handlers ?? undefined);
  const epoch = records('a', 1, 0, 3);
  await consumer.handlers!.onBatch(batch(epoch.slice(0, 3))); // SyncBegin + 2 extents
  await replay.stop(); // the final checkpoint flushes and commits mid-epoch
  assert.deepEqual(consumer.commits.at(-1), {
    topic: TOPIC,
    partition: 0,
    offset: 3,
    metadata: '{"v":1,"rewind":0}',
  });
});

test('the committed offset never passes the record a stopped disk failed on', async () => {
  const { consumer, replay, published, batch } = setUp();
  await replay.start();
  await eventually('the consumer runs', () => consumer.handlers ?? undefined);
  const good = records('good', 1, 0, 2);
  const bad = records('bad', 1, 0, 2);
  const damaged = {
    ...(bad[1] as ExtentRecord),
    crc32c: ((bad[1] as ExtentRecord).crc32c + 1) >>> 0,
  };
  // Interleaved in one partition: bad's SyncBegin at 1, its damaged extent at offset 3.
  await consumer.handlers!.onBatch(
    batch([good[0]!, bad[0]!, good[1]!, damaged, good[2]!, bad[2]!, good[3]!, bad[3]!]),
  );
  assert.deepEqual(published, ['good@1'], 'the healthy disk reached its restore point');
  const committed = consumer.commits.at(-1)!;
  assert.ok(
    committed.offset <= 3,
    `committed offset ${committed.offset} stays at or before the bad record (3)`,
  );
  const status = replay.status().disks.find((disk) => disk.diskId === 'bad')!;
  assert.equal(status.lastError?.code, 'EXTENTLOG_ERR_REPLAY_CRC');
  assert.match(status.lastError!.message, /disk bad seq 1/);
  await replay.stop();
  assert.ok(
    consumer.commits.every((entry) => entry.offset <= 3),
    'no later commit passes it either',
  );
});
