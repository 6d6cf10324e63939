/**
 * A sync cycle's records, on an in-memory log: framing, splitting at multiples of the
 * record size, zero runs, CRCs, the epoch digest, and how the log's tail then reads back as
 * the feed's position (committed epoch, next seq and epoch, aborted ranges, FULL aborted,
 * history expired).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  emptyPosition,
  readDiskPosition,
  type DiskPosition,
} from '../../../producers/feed-position.js';
import type { ChangeSet, ChangedExtent } from '../../../producers/source.js';
import { runSyncCycle } from '../../../producers/sync-cycle.js';
import { createEpochDigest } from '../../../schemas/epoch-digest.js';
import { extentCrc32c } from '../../../schemas/extent-crc.js';
import type { ExtentlogRecord } from '../../../schemas/extentlog-record.js';
import { FakeCodec, FakeLog } from '../../support/fake-log.js';
import { patternBytes } from '../../support/image-files.js';

const BLOCK = 4096;
const DISK_BYTES = 64 * BLOCK;

function changeSet(
  image: Buffer,
  extents: readonly ChangedExtent[],
  mode: 'FULL' | 'INCREMENTAL',
  calls: string[],
): ChangeSet {
  return {
    disk: { diskId: 'disk-0', sizeBytes: image.length, blockSizeBytes: BLOCK },
    mode,
    reference: `ref-${calls.length}`,
    baseReference: mode === 'FULL' ? null : 'ref-base',
    async *changes() {
      yield* extents;
    },
    reader: {
      read: async (offsetBytes, lengthBytes) =>
        Buffer.from(image.subarray(offsetBytes, offsetBytes + lengthBytes)),
    },
    commit: async () => void calls.push('commit'),
    abort: async () => void calls.push('abort'),
  };
}

async function cycle(log: FakeLog, codec: FakeCodec, position: DiskPosition, set: ChangeSet) {
  return runSyncCycle({
    feed: 'vm1',
    topic: 'topic',
    position,
    changeSet: set,
    producer: log.producer(),
    encode: (record) => codec.encode(record),
    limits: { maxRecordBytes: 4 * BLOCK, minZeroRunBytes: 2 * BLOCK, readConcurrency: 3 },
    now: () => 1_000,
  });
}

async function records(log: FakeLog, codec: FakeCodec): Promise<ExtentlogRecord[]> {
  return Promise.all(log.partitions[0]!.map((message) => codec.decode(message.value!)));
}

const position = (log: FakeLog, codec: FakeCodec) =>
  readDiskPosition({
    log: log.client(),
    decoder: codec,
    topic: 'topic',
    partition: 0,
    diskId: 'disk-0',
  });

test('a cycle frames its extents, cuts them at record multiples, sends zero runs as ZERO and digests them', async () => {
  const image = patternBytes(DISK_BYTES, 1);
  image.fill(0, 5 * BLOCK, 7 * BLOCK); // a two-block zero run: ZERO
  image.fill(0, 9 * BLOCK, 10 * BLOCK); // a one-block run stays inside its WRITE
  const log = new FakeLog();
  const codec = new FakeCodec();
  const calls: string[] = [];
  const result = await cycle(
    log,
    codec,
    emptyPosition(0),
    changeSet(
      image,
      [
        { kind: 'extent', offsetBytes: 2 * BLOCK, lengthBytes: 10 * BLOCK, op: 'WRITE' },
        { kind: 'extent', offsetBytes: 20 * BLOCK, lengthBytes: 3 * BLOCK, op: 'ZERO' },
      ],
      'INCREMENTAL',
      calls,
    ),
  );
  const written = await records(log, codec);
  assert.deepEqual(
    written.map((record) => [record.type, record.seq, record.epoch]),
    [
      ['sync-begin', 0, 1],
      ...[1, 2, 3, 4, 5, 6].map((seq) => ['extent', seq, 1]),
      ['sync-commit', 7, 1],
    ],
  );
  const extents = written.filter((record) => record.type === 'extent');
  assert.deepEqual(
    extents.map((extent) => [extent.offsetBytes / BLOCK, extent.lengthBytes / BLOCK, extent.op]),
    [
      [2, 2, 'WRITE'], // cut at the 4-block multiple
      [4, 1, 'WRITE'],
      [5, 2, 'ZERO'], // a zero run of minZeroRunBytes
      [7, 1, 'WRITE'],
      [8, 4, 'WRITE'], // the one-block zero run stays inside
      [20, 3, 'ZERO'],
    ],
  );
  const digest = createEpochDigest(1);
  for (const extent of extents) {
    assert.equal(extent.crc32c, extentCrc32c(extent), `CRC of seq ${extent.seq}`);
    if (extent.op === 'WRITE')
      assert.ok(
        extent.data!.equals(
          image.subarray(extent.offsetBytes, extent.offsetBytes + extent.lengthBytes),
        ),
      );
    else assert.equal(extent.data, null);
    digest.add(extent);
  }
  const commit = written.at(-1)!;
  assert.ok(commit.type === 'sync-commit');
  assert.equal(commit.extentCount, 6);
  assert.equal(commit.dataBytes, 8 * BLOCK);
  assert.equal(commit.digest, digest.hex());
  assert.deepEqual(calls, ['commit'], 'the source drops its old reference after the SyncCommit');
  assert.equal(result.nextSeq, 8);
  assert.deepEqual(result.committed, { epoch: 1, seq: 7, reference: 'ref-0', committedAtMs: 1000 });
});

test('the log tail tells the committed epoch, the next seq and epoch, and what an aborted epoch touched', async () => {
  const image = patternBytes(DISK_BYTES, 2);
  const log = new FakeLog();
  const codec = new FakeCodec();
  const calls: string[] = [];
  assert.deepEqual(await position(log, codec), emptyPosition(0));
  const full = [
    { kind: 'extent' as const, offsetBytes: 0, lengthBytes: DISK_BYTES, op: 'WRITE' as const },
  ];
  await cycle(log, codec, emptyPosition(0), changeSet(image, full, 'FULL', calls));
  const afterFull = await position(log, codec);
  assert.equal(afterFull.committed?.epoch, 1);
  assert.equal(afterFull.nextEpoch, 2);
  assert.equal(afterFull.nextSeq, log.partitions[0]!.length);
  assert.equal(afterFull.uncommitted.full, false);
  assert.equal(afterFull.uncommitted.ranges.size, 0);

  // An incremental that dies after two of its extents (its producer killed).
  const producer = log.producer();
  const seq = afterFull.nextSeq;
  const envelope = { feed: 'vm1', disk: 'disk-0', epoch: 2 };
  const extent = (at: number, offsetBytes: number) => ({
    key: Buffer.from('disk-0'),
    value: codec.encode({
      ...envelope,
      type: 'extent',
      seq: at,
      offsetBytes,
      lengthBytes: BLOCK,
      op: 'ZERO',
      data: null,
      crc32c: 0,
      issuedAtNs: 0n,
      completedAtNs: 0n,
      provenance: { changeId: null, snapshotId: null, journalSeq: null },
    }),
  });
  await producer.send('topic', 0, [
    {
      key: Buffer.from('disk-0'),
      value: codec.encode({
        ...envelope,
        type: 'sync-begin',
        seq,
        mode: 'INCREMENTAL',
        diskSizeBytes: DISK_BYTES,
        blockSizeBytes: BLOCK,
        sourceReference: 'ref-x',
        baseEpoch: 1,
        baseReference: 'ref-0',
        rebaselineReason: null,
        startedAtMs: 0,
      }),
    },
    extent(seq + 1, 10 * BLOCK),
    extent(seq + 2, 11 * BLOCK),
  ]);
  const aborted = await position(log, codec);
  assert.equal(aborted.committed?.epoch, 1);
  assert.equal(aborted.nextSeq, seq + 3);
  assert.equal(aborted.nextEpoch, 3);
  assert.deepEqual(aborted.uncommitted.epochs, [2]);
  assert.deepEqual(
    [...aborted.uncommitted.ranges.ranges()],
    [{ offsetBytes: 10 * BLOCK, lengthBytes: 2 * BLOCK }],
  );

  // The next epoch re-sends the aborted ranges although the source reports other changes only.
  await cycle(
    log,
    codec,
    aborted,
    changeSet(
      image,
      [{ kind: 'extent', offsetBytes: 30 * BLOCK, lengthBytes: BLOCK, op: 'WRITE' }],
      'INCREMENTAL',
      calls,
    ),
  );
  const third = (await records(log, codec)).filter((record) => record.epoch === 3);
  assert.equal(third[0]?.type, 'sync-begin');
  assert.equal(third[0]?.seq, seq + 3, 'the next epoch follows the aborted records');
  assert.deepEqual(
    third.filter((record) => record.type === 'extent').map((record) => record.offsetBytes / BLOCK),
    [30, 10],
  );
  assert.equal((await position(log, codec)).committed?.epoch, 3);
});

test('an aborted FULL epoch, or a log whose commits expired, makes the next epoch FULL', async () => {
  const image = patternBytes(DISK_BYTES, 3);
  const log = new FakeLog();
  const codec = new FakeCodec();
  const full = [
    { kind: 'extent' as const, offsetBytes: 0, lengthBytes: DISK_BYTES, op: 'WRITE' as const },
  ];
  await cycle(log, codec, emptyPosition(0), changeSet(image, full, 'FULL', []));
  const committedLength = log.partitions[0]!.length;
  // A second FULL that dies before its SyncCommit.
  log.partitions[0]!.push(
    ...(await (async () => {
      const scratch = new FakeLog();
      await cycle(scratch, codec, await position(log, codec), changeSet(image, full, 'FULL', []));
      return scratch.partitions[0]!.slice(0, -1);
    })()),
  );
  const fullAborted = await position(log, codec);
  assert.equal(fullAborted.uncommitted.full, true);
  assert.equal(fullAborted.committed?.epoch, 1);

  // Retention removed every commit: the disk's history expired.
  log.expire(committedLength);
  const expired = await position(log, codec);
  assert.equal(expired.committed, null);
  assert.equal(expired.uncommitted.full, true);
  assert.equal(expired.nextEpoch, 3);
});
