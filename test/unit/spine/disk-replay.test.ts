/**
 * The disk replay state machine against a target that writes into a Buffer: what it
 * applies, when it seals a restore point, and the checks that stop a disk (seq gap, CRC,
 * digest), supersede an aborted epoch, wait for a FULL epoch, or only verify records that
 * lie below the committed offset.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DiskReplay } from '../../../consumers/disk-replay.js';
import { TargetError } from '../../../consumers/errors.js';
import type { Target, TargetDisk } from '../../../consumers/target.js';
import { createEpochDigest } from '../../../schemas/epoch-digest.js';
import { extentCrc32c } from '../../../schemas/extent-crc.js';
import type { ExtentlogRecord, ExtentRecord } from '../../../schemas/extentlog-record.js';
import type { RestorePoint } from '../../../schemas/restore-point.js';
import { silentLogger } from '../../support/silent-logger.js';

const BLOCK = 4096;
const DISK_BYTES = 16 * BLOCK;

function bufferTarget() {
  const image = Buffer.alloc(DISK_BYTES);
  const calls: string[] = [];
  const disk: TargetDisk = {
    beginEpoch: async (begin) => void calls.push(`begin ${begin.epoch}`),
    apply: async (extent) => {
      calls.push(`apply ${extent.offsetBytes / BLOCK}`);
      if (extent.op === 'WRITE') extent.data!.copy(image, extent.offsetBytes);
      else image.fill(0, extent.offsetBytes, extent.offsetBytes + extent.lengthBytes);
    },
    flush: async () => void calls.push('flush'),
    commitEpoch: async (commit) => {
      calls.push(`commit ${commit.epoch}`);
      return {};
    },
    close: async () => undefined,
  };
  const target: Target = {
    kind: 'buffer',
    openDisk: async () => disk,
    close: async () => undefined,
  };
  return { image, calls, target };
}

function replay(lastRestorePoint: RestorePoint | null = null) {
  const { image, calls, target } = bufferTarget();
  const points: RestorePoint[] = [];
  const rebaselines: string[] = [];
  const disk = new DiskReplay({
    targetName: 'mirror',
    target,
    feed: 'vm1',
    diskId: 'disk-0',
    lastRestorePoint,
    publishRestorePoint: async (point) => void points.push(point),
    requestRebaseline: (reason) => void rebaselines.push(reason),
    logger: silentLogger,
    now: () => 5,
  });
  return { disk, image, calls, points, rebaselines };
}

/** An epoch's records from `seq` on: SyncBegin, one WRITE per block given, SyncCommit. */
function epochRecords(
  epoch: number,
  seq: number,
  blocks: readonly number[],
  mode: 'FULL' | 'INCREMENTAL' = 'FULL',
  baseEpoch: number | null = null,
): ExtentlogRecord[] {
  const envelope = { feed: 'vm1', disk: 'disk-0', epoch };
  const digest = createEpochDigest(epoch);
  const extents: ExtentRecord[] = blocks.map((block, index) => {
    const fields = {
      ...envelope,
      seq: seq + 1 + index,
      offsetBytes: block * BLOCK,
      lengthBytes: BLOCK,
      op: 'WRITE' as const,
      data: Buffer.alloc(BLOCK, epoch * 16 + block),
    };
    const extent: ExtentRecord = {
      ...fields,
      type: 'extent',
      crc32c: extentCrc32c(fields),
      issuedAtNs: 0n,
      completedAtNs: 0n,
      provenance: { changeId: null, snapshotId: null, journalSeq: null },
    };
    digest.add(extent);
    return extent;
  });
  return [
    {
      ...envelope,
      type: 'sync-begin',
      seq,
      mode,
      diskSizeBytes: DISK_BYTES,
      blockSizeBytes: BLOCK,
      sourceReference: `ref-${epoch}`,
      baseEpoch,
      baseReference: null,
      rebaselineReason: null,
      startedAtMs: 0,
    },
    ...extents,
    {
      ...envelope,
      type: 'sync-commit',
      seq: seq + 1 + blocks.length,
      extentCount: blocks.length,
      dataBytes: blocks.length * BLOCK,
      digest: digest.hex(),
      sourceReference: `ref-${epoch}`,
      consistency: 'CRASH_CONSISTENT',
      committedAtMs: 1,
    },
  ];
}

async function feed(disk: DiskReplay, records: readonly ExtentlogRecord[], durableBelow = 0) {
  for (const [offset, record] of records.entries())
    await disk.process(record, offset, offset < durableBelow);
}

test('an epoch is applied, flushed, sealed and announced in that order', async () => {
  const { disk, image, calls, points } = replay();
  await feed(disk, epochRecords(1, 0, [1, 3]));
  assert.deepEqual(calls, ['begin 1', 'apply 1', 'apply 3', 'flush', 'commit 1']);
  assert.equal(points.length, 1);
  assert.equal(points[0]!.epoch, 1);
  assert.equal(image[3 * BLOCK], 16 + 3);
  assert.equal(disk.stopped, null);
});

test('a sequence gap stops the disk at the record, naming disk, seq and offset', async () => {
  const { disk, points } = replay();
  const records = epochRecords(1, 0, [1, 2, 3]);
  records.splice(2, 1); // seq 2 lost
  await feed(disk, records);
  assert.equal(disk.stopped?.code, 'EXTENTLOG_ERR_REPLAY_SEQUENCE_GAP');
  assert.match(disk.stopped!.message, /disk disk-0 .*expected seq 2, received 3 \(log offset 2\)/);
  assert.equal(disk.stopped!.details.offset, 2);
  assert.deepEqual(points, []);
});

test('a CRC mismatch stops the disk before the extent reaches the target', async () => {
  const { disk, calls } = replay();
  const records = epochRecords(1, 0, [1, 2]);
  const bad = records[2] as ExtentRecord;
  records[2] = { ...bad, data: Buffer.alloc(BLOCK, 0xee) };
  await feed(disk, records);
  assert.equal(disk.stopped?.code, 'EXTENTLOG_ERR_REPLAY_CRC');
  assert.match(disk.stopped!.message, /disk disk-0 seq 2 .*log offset 2/);
  assert.deepEqual(calls, ['begin 1', 'apply 1']);
});

test('a SyncCommit whose digest does not match the extents stops the disk without a restore point', async () => {
  const { disk, points } = replay();
  const records = epochRecords(1, 0, [1, 2]);
  const commit = records.at(-1)!;
  assert.ok(commit.type === 'sync-commit');
  records[records.length - 1] = { ...commit, digest: '0'.repeat(64) };
  await feed(disk, records);
  assert.equal(disk.stopped?.code, 'EXTENTLOG_ERR_REPLAY_DIGEST');
  assert.deepEqual(points, []);
});

test('an epoch that never committed is superseded by the next one', async () => {
  const { disk, points, image } = replay();
  const aborted = epochRecords(1, 0, [1, 2, 3]).slice(0, 3); // begin + two extents, no commit
  const next = epochRecords(2, 3, [1, 2, 3]);
  await feed(disk, [...aborted, ...next]);
  assert.equal(disk.stopped, null);
  assert.deepEqual(
    points.map((point) => point.epoch),
    [2],
  );
  assert.equal(image[2 * BLOCK], 2 * 16 + 2);
});

test('an incremental epoch without its base waits for a FULL epoch and asks for one', async () => {
  const { disk, calls, points, rebaselines } = replay();
  await feed(disk, [
    ...epochRecords(5, 40, [1], 'INCREMENTAL', 4),
    ...epochRecords(6, 43, [2], 'INCREMENTAL', 5),
    ...epochRecords(7, 46, [3], 'FULL'),
  ]);
  assert.equal(rebaselines.length, 1, 'asked once');
  assert.match(rebaselines[0]!, /holds no restore point of disk disk-0/);
  assert.deepEqual(calls, ['begin 7', 'apply 3', 'flush', 'commit 7']);
  assert.deepEqual(
    points.map((point) => point.epoch),
    [7],
  );
});

test('an incremental epoch whose base the target lost waits for a FULL epoch and asks for one', async () => {
  const { disk, calls, points, rebaselines } = replay();
  await feed(disk, epochRecords(1, 0, [1]));
  const target = bufferTarget();
  // The target disk refuses epoch 2: its base (epoch 1) is gone from the target.
  const lost = new DiskReplay({
    targetName: 'mirror',
    target: {
      ...target.target,
      openDisk: async (info) => {
        const inner = await target.target.openDisk(info);
        return {
          ...inner,
          beginEpoch: async (begin) => {
            if (begin.mode === 'INCREMENTAL')
              throw new TargetError('EXTENTLOG_ERR_TARGET_BASE_MISSING', 'base snapshot deleted');
            await inner.beginEpoch(begin);
          },
        };
      },
    },
    feed: 'vm1',
    diskId: 'disk-0',
    lastRestorePoint: points[0]!,
    publishRestorePoint: async (point) => void points.push(point),
    requestRebaseline: (reason) => void rebaselines.push(reason),
    logger: silentLogger,
    now: () => 5,
  });
  await feed(lost, [...epochRecords(2, 3, [2], 'INCREMENTAL', 1)]);
  assert.equal(lost.stopped, null, 'not stopped');
  assert.equal(lost.status().state, 'waiting');
  assert.deepEqual(rebaselines, ['base snapshot deleted']);
  await feed(lost, epochRecords(3, 6, [3]));
  assert.deepEqual(target.calls, ['begin 3', 'apply 3', 'flush', 'commit 3']);
  assert.deepEqual(
    points.map((point) => point.epoch),
    [1, 3],
  );
  assert.deepEqual(calls, ['begin 1', 'apply 1', 'flush', 'commit 1']);
});

test('records below the committed offset are verified but not applied again', async () => {
  const { disk, calls, points } = replay();
  const records = epochRecords(1, 0, [1, 2, 3]);
  await feed(disk, records, 3); // begin, extent 1 and extent 2 were durable before a restart
  assert.deepEqual(calls, ['begin 1', 'apply 3', 'flush', 'commit 1']);
  assert.equal(points.length, 1, 'the digest covered the verified extents too');

  const again = replay();
  const tampered = epochRecords(1, 0, [1, 2, 3]);
  const first = tampered[1] as ExtentRecord;
  tampered[1] = { ...first, data: Buffer.alloc(BLOCK, 0xee) };
  await feed(again.disk, tampered, 3);
  assert.equal(
    again.disk.stopped?.code,
    'EXTENTLOG_ERR_REPLAY_CRC',
    'verified below the offset too',
  );
});

test('records lost to retention in the middle of an epoch make the disk wait for a FULL epoch', async () => {
  const { disk, calls, points, rebaselines } = replay();
  await feed(disk, epochRecords(1, 0, [1]));
  const second = epochRecords(2, 3, [1, 2, 3]);
  await disk.process(second[0]!, 3, false);
  await disk.process(second[1]!, 4, false);
  disk.historyLost(5, 7);
  await disk.process(second[4]!, 7, false); // SyncCommit of the epoch whose middle is gone
  for (const [index, record] of [
    ...epochRecords(3, 8, [2], 'INCREMENTAL', 2),
    ...epochRecords(4, 11, [3], 'FULL'),
  ].entries())
    await disk.process(record, 8 + index, false);
  assert.equal(disk.stopped, null, 'no sequence gap: the loss is known');
  assert.equal(rebaselines.length, 1, 'asked once');
  assert.match(rebaselines[0]!, /lost offsets 5\.\.6 .* in the middle of epoch 2/);
  assert.deepEqual(
    points.map((point) => point.epoch),
    [1, 4],
    'neither the torn epoch nor the incremental after it became a restore point',
  );
  assert.deepEqual(calls.slice(-4), ['begin 4', 'apply 3', 'flush', 'commit 4']);
});
