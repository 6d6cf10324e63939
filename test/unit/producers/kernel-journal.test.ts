/**
 * The kernel-journal source against an in-memory journal (test/support/fake-kernel-journal):
 * epochs read from snapshots reproduce the disk at every consistency point, a restarted
 * producer resumes from the committed position, and every way of losing records (overflow,
 * a re-created journal, released data) leads to a visible re-baseline.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { SourceError } from '../../../producers/errors.js';
import { EpochExtents } from '../../../producers/kernel-journal/epoch-extents.js';
import {
  createKernelJournalSource,
  rebaselineReasonOf,
} from '../../../producers/kernel-journal/kernel-journal-source.js';
import {
  formatJournalReference,
  parseJournalReference,
} from '../../../producers/kernel-journal/journal-reference.js';
import type { JournalRecord } from '../../../producers/kernel-journal/journal-device.js';
import type { ChangeSet, ChangeSource, DiskInfo } from '../../../producers/source.js';
import { FakeKernelJournal } from '../../support/fake-kernel-journal.js';
import { silentLogger } from '../../support/silent-logger.js';

const KiB = 1024;
const DISK_BYTES = 1024 * KiB;

function record(
  type: JournalRecord['type'],
  offsetBytes: number,
  lengthBytes: number,
  completedNs: bigint,
  seq = completedNs,
): JournalRecord {
  return {
    pos: seq,
    seq,
    type,
    offsetBytes,
    lengthBytes,
    fua: false,
    preflush: false,
    issuedNs: completedNs - 1n,
    completedNs,
    status: 0,
    arg: 0n,
  };
}

describe('EpochExtents', () => {
  test('a later record wins the bytes it covers; touching ranges of one kind merge', () => {
    const epoch = new EpochExtents(4096, 64 * KiB);
    epoch.add(record('WRITE', 0, 8192, 10n));
    epoch.add(record('WRITE_ZEROES', 4096, 16384, 20n));
    epoch.add(record('WRITE', 20480, 4096, 30n));
    epoch.add(record('WRITE', 24576, 512, 40n)); // widened to its block, merges
    assert.deepEqual(
      epoch.byOffset().map((e) => [e.startBytes, e.endBytes, e.op, e.completedNs, e.seq]),
      [
        [0, 4096, 'WRITE', 10n, 10n],
        [4096, 20480, 'ZERO', 20n, 20n],
        [20480, 28672, 'WRITE', 40n, 40n],
      ],
    );
    assert.deepEqual(
      epoch.byCompletion().map((e) => e.startBytes),
      [0, 4096, 20480],
    );
  });

  test('write-zeroes keeps ZERO to whole blocks and reads its ragged edges', () => {
    const epoch = new EpochExtents(4096, 64 * KiB);
    epoch.add(record('WRITE_ZEROES', 1024, 10240, 5n));
    assert.deepEqual(
      epoch.byOffset().map((e) => [e.startBytes, e.endBytes, e.op]),
      [
        [0, 4096, 'WRITE'],
        [4096, 8192, 'ZERO'],
        [8192, 12288, 'WRITE'],
      ],
    );
  });

  test('a write inside a zeroed range splits it; discards read like writes', () => {
    const epoch = new EpochExtents(4096, 64 * KiB);
    epoch.add(record('WRITE_ZEROES', 0, 32768, 1n));
    epoch.add(record('DISCARD', 8192, 4096, 2n));
    assert.deepEqual(
      epoch.byOffset().map((e) => [e.startBytes, e.endBytes, e.op]),
      [
        [0, 8192, 'ZERO'],
        [8192, 12288, 'WRITE'],
        [12288, 32768, 'ZERO'],
      ],
    );
  });

  test('ranges stop at the end of the disk', () => {
    const epoch = new EpochExtents(4096, 10 * 512);
    epoch.add(record('WRITE', 4096, 1024, 1n));
    assert.deepEqual(epoch.byOffset()[0]?.endBytes, 5120);
  });
});

test('journal references round-trip and reject anything else', () => {
  const position = { journalId: 0xabcdefn, pos: 123456789n, lostTotal: 5n };
  const reference = formatJournalReference(position);
  assert.equal(reference, 'kjournal:0000000000abcdef:123456789:5');
  assert.deepEqual(parseJournalReference(reference), position);
  assert.equal(parseJournalReference('hashmap:abc'), null);
});

test('rebaselineReasonOf names why a committed position cannot be resumed', () => {
  const fake = new FakeKernelJournal(DISK_BYTES);
  const since = (pos: bigint, id = fake.journalId, lostTotal = 0n) => ({
    epoch: 7,
    reference: formatJournalReference({ journalId: id, pos, lostTotal }),
  });
  fake.head = 100n;
  fake.tail = 50n;
  assert.equal(rebaselineReasonOf(fake.info(), since(60n)), null);
  assert.match(rebaselineReasonOf(fake.info(), since(60n, 1n)) ?? '', /re-created/);
  fake.lostTotal = 3n;
  fake.lastLossHead = 60n;
  assert.match(
    rebaselineReasonOf(fake.info(), since(60n)) ?? '',
    /overflowed after the committed position 60: 3 records/,
  );
  assert.equal(
    rebaselineReasonOf(fake.info(), since(60n, fake.journalId, 3n)),
    null,
    'drops the committed point already accounts for (a FULL read them)',
  );
  fake.lostTotal = 0n;
  fake.ackedDataEnd = 38n;
  assert.equal(rebaselineReasonOf(fake.info(), since(40n)), null, 'only flushes released');
  fake.ackedDataEnd = 45n;
  assert.match(rebaselineReasonOf(fake.info(), since(40n)) ?? '', /released/);
  assert.match(rebaselineReasonOf(fake.info(), since(200n)) ?? '', /beyond/);
  assert.match(rebaselineReasonOf(fake.info(), { epoch: 1, reference: 'x' }) ?? '', /not a kernel/);
});

function pattern(length: number, seed: number): Buffer {
  const data = Buffer.alloc(length);
  for (let index = 0; index < length; index += 1) data[index] = (seed * 31 + index * 7) & 0xff;
  return data;
}

/** A workload of writes, zeroes, discards and flushes, a few per read of the source. */
function workload(reads: number) {
  return (journal: FakeKernelJournal, read: number) => {
    if (read >= reads) return;
    journal.clockMs += 40;
    const offset = ((read * 37) % 240) * 4096;
    if (read % 9 === 8) journal.zero(offset, 12 * KiB);
    else if (read % 11 === 10) journal.discard(offset, 8 * KiB);
    else if (read % 5 === 4) journal.flush();
    else
      journal.write(
        offset + (read % 3) * 512,
        pattern(((read % 4) + 1) * 3000, read),
        read % 7 === 0,
      );
  };
}

interface Drained {
  readonly points: string[];
  readonly replica: Buffer;
}

/**
 * Consumes a cycle as the feed would: applies each extent to `replica`, checks it equals
 * the disk at every consistency point, commits the point; ends after `points` points.
 */
async function drain(
  fake: FakeKernelJournal,
  changeSet: ChangeSet,
  replica: Buffer,
  points: number,
): Promise<Drained> {
  const seen: string[] = [];
  let lastCompleted = 0n;
  for await (const item of changeSet.changes()) {
    if (item.kind === 'consistency-point') {
      const marker = parseJournalReference(item.reference)!.pos;
      const image = fake.images.get(marker);
      assert.ok(image !== undefined, `a snapshot was taken at ${marker}`);
      assert.ok(replica.equals(image), `the replica equals the disk at ${item.reference}`);
      seen.push(item.reference);
      await changeSet.commitConsistencyPoint?.(item.reference);
      lastCompleted = 0n;
      if (seen.length === points) changeSet.end?.();
      continue;
    }
    if (changeSet.mode !== 'FULL' || seen.length > 0) {
      assert.ok((item.completedAtNs ?? 0n) >= lastCompleted, 'extents come in completion order');
      lastCompleted = item.completedAtNs ?? 0n;
      assert.notEqual(item.provenance?.journalSeq, undefined);
    }
    if (item.op === 'ZERO') replica.fill(0, item.offsetBytes, item.offsetBytes + item.lengthBytes);
    else item.data!.copy(replica, item.offsetBytes);
  }
  await changeSet.commit();
  return { points: seen, replica };
}

async function setUp(capacity = 1024): Promise<{
  fake: FakeKernelJournal;
  source: ChangeSource;
  disk: DiskInfo;
}> {
  const fake = new FakeKernelJournal(DISK_BYTES, capacity);
  pattern(DISK_BYTES, 99).copy(fake.disk);
  const source = createKernelJournalSource({
    disks: [{ diskId: 'd0', journalPath: '/dev/extentlog/j0', cowStorePath: '/dev/vdb' }],
    openJournal: fake.open,
    now: fake.now,
    intervalMs: 1000,
    barrierMinIntervalMs: 300,
    maxExtentBytes: 64 * KiB,
    logger: silentLogger,
  });
  const [disk] = await source.disks();
  return { fake, source, disk: disk! };
}

test('a FULL epoch and then CONTINUOUS epochs reproduce the disk at every consistency point', async () => {
  const { fake, source, disk } = await setUp();
  assert.deepEqual(disk, { diskId: 'd0', sizeBytes: DISK_BYTES, blockSizeBytes: 4096 });
  fake.beforeRead = workload(60);
  let overwrites = 0;
  fake.beforeSnapshotRead = (journal) => {
    overwrites += 1;
    journal.write((overwrites % 200) * 4096, pattern(4096, 1000 + overwrites));
  };
  const changeSet = await source.open(disk, null);
  assert.equal(changeSet.mode, 'FULL');
  assert.equal(changeSet.rebaselineReason, undefined);
  const { points } = await drain(fake, changeSet, Buffer.alloc(DISK_BYTES), 6);
  assert.ok(points.length >= 6, `${points.length} points`);
  assert.ok(overwrites > 20, 'writes landed while epochs were read from their snapshots');
  assert.equal(fake.snapshot, null, 'no snapshot is left behind');
  assert.equal(
    fake.tail,
    parseJournalReference(points.at(-1)!)!.pos,
    'acknowledged up to the last point',
  );
});

test('a restarted producer resumes at the committed position and is handed the later records again', async () => {
  const { fake, source, disk } = await setUp();
  fake.beforeRead = workload(30);
  const first = await source.open(disk, null);
  const replica = Buffer.alloc(DISK_BYTES);
  const { points } = await drain(fake, first, replica, 3);
  const committed = points.at(-1)!;
  // The producer dies after more writes, before another point: nothing is acknowledged.
  for (let index = 0; index < 5; index += 1) fake.write(index * 8192, pattern(4096, 500 + index));
  const tailBefore = fake.tail;
  const second = await source.open(disk, { epoch: 4, reference: committed });
  assert.equal(second.mode, 'CONTINUOUS');
  assert.equal(second.baseReference, committed);
  assert.equal(fake.tail, tailBefore);
  fake.beforeRead = workload(0);
  const resumed = await drain(fake, second, replica, 1);
  assert.equal(resumed.points.length, 1);
  assert.ok(replica.equals(fake.disk), 'the replica caught up with the disk');
});

test('a journal overflow stops the stream, and the next cycle re-baselines with the reason', async () => {
  const { fake, source, disk } = await setUp(32);
  const first = await source.open(disk, null);
  const replica = Buffer.alloc(DISK_BYTES);
  let committed = '';
  let reads = 0;
  fake.beforeRead = (journal) => {
    reads += 1;
    if (reads === 3)
      for (let index = 0; index < 100; index += 1)
        journal.write(index * 4096, pattern(4096, index));
  };
  await assert.rejects(
    (async () => {
      for await (const item of first.changes()) {
        if (item.kind === 'consistency-point') {
          committed = item.reference;
          await first.commitConsistencyPoint?.(item.reference);
        } else if (item.data) item.data.copy(replica, item.offsetBytes);
      }
    })(),
    (error: unknown) =>
      error instanceof SourceError && error.code === 'EXTENTLOG_ERR_SOURCE_JOURNAL_OVERFLOW',
  );
  await first.abort(new Error('overflow'));
  assert.ok(fake.lostTotal > 0n);
  fake.beforeRead = null;
  const second = await source.open(disk, { epoch: 1, reference: committed });
  assert.equal(second.mode, 'FULL');
  assert.match(second.rebaselineReason ?? '', /overflowed after the committed position/);
  // The re-baseline releases the full ring at once: writes while it reads the disk fit.
  let during = 0;
  fake.beforeSnapshotRead = (journal) => {
    if (during < 10) {
      journal.write(during * 8192, pattern(4096, 700 + during));
      journal.write(during * 8192 + 4096, pattern(4096, 800 + during));
    }
    during += 1;
  };
  const lostBefore = fake.lostTotal;
  const { points } = await drain(fake, second, replica, 2);
  assert.ok(points.length >= 2, `${points.length} points`);
  assert.equal(fake.lostTotal, lostBefore, 'nothing more was dropped');
  assert.ok(during >= 10, 'writes landed while the disk was read');
});

test('a re-created journal makes the next cycle a FULL one that says why', async () => {
  const { fake, source, disk } = await setUp();
  fake.beforeRead = workload(5);
  const first = await source.open(disk, null);
  const { points } = await drain(fake, first, Buffer.alloc(DISK_BYTES), 1);
  fake.recreate();
  const second = await source.open(disk, { epoch: 1, reference: points[0]! });
  assert.equal(second.mode, 'FULL');
  assert.match(second.rebaselineReason ?? '', /re-created/);
  await second.abort(new Error('test done'));
  assert.equal(fake.snapshot, null, 'abort ends the snapshot');
});

test('records that change nothing are released once the last point is durable, and a restart resumes past them', async () => {
  const { fake, source, disk } = await setUp();
  fake.beforeRead = workload(4);
  const first = await source.open(disk, null);
  const replica = Buffer.alloc(DISK_BYTES);
  const changes = first.changes()[Symbol.asyncIterator]();
  let reference = '';
  for (let points = 0; points < 2;) {
    const { value } = await changes.next();
    if (value?.kind === 'consistency-point') {
      points += 1;
      reference = value.reference;
      await first.commitConsistencyPoint?.(value.reference);
    } else if (value?.kind === 'extent') {
      if (value.op === 'ZERO')
        replica.fill(0, value.offsetBytes, value.offsetBytes + value.lengthBytes);
      else value.data!.copy(replica, value.offsetBytes);
    }
  }
  const marker = parseJournalReference(reference)!.pos;
  fake.beforeRead = (journal, read) => {
    if (read < 20) journal.flush();
    if (read === 40) first.end?.();
  };
  for (;;) {
    const { done } = await changes.next();
    if (done) break;
  }
  await first.commit();
  assert.ok(fake.tail > marker, 'the flushes were released');
  assert.ok(fake.ackedDataEnd <= marker);
  fake.write(0, pattern(4096, 77));
  fake.beforeRead = null;
  const second = await source.open(disk, { epoch: 2, reference });
  assert.equal(second.mode, 'CONTINUOUS');
  await drain(fake, second, replica, 1);
  assert.ok(replica.equals(fake.disk));
});

test('ending the stream commits a last point that covers every record the journal held', async () => {
  const { fake, source, disk } = await setUp();
  const changeSet = await source.open(disk, null);
  let writes = 0;
  fake.beforeSnapshotRead = (journal) => {
    // Writes while the FULL epoch is read; the feed stops before any later point.
    if (writes < 5) journal.write(writes * 64 * KiB, pattern(6000, 300 + writes));
    writes += 1;
    if (writes === 5) changeSet.end?.();
  };
  const replica = Buffer.alloc(DISK_BYTES);
  const { points } = await drain(fake, changeSet, replica, Number.POSITIVE_INFINITY);
  assert.equal(points.length, 2, 'the FULL point and the last one');
  assert.ok(replica.equals(fake.disk), 'the writes made before end() are in the last epoch');
});
