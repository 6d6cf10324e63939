import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatLogLine } from '../../../bin/cli-logger.js';
import { ProgressDisplay } from '../../../bin/progress.js';
import { bar, CycleClock, duration, feedLines, targetLines } from '../../../bin/progress-lines.js';
import { formatTable } from '../../../bin/table.js';
import type { DiskStatus, FeedStatus } from '../../../producers/feed.js';
import type { ReplayStatus } from '../../../consumers/replay.js';

const MiB = 1024 * 1024;

function diskStatus(overrides: Partial<DiskStatus>): DiskStatus {
  return {
    diskId: 'disk-0',
    partition: 0,
    phase: 'idle',
    sizeBytes: 100 * MiB,
    currentEpoch: null,
    lastCommittedEpoch: null,
    lastCommittedAtMs: null,
    progress: null,
    lastCycle: null,
    recentCycles: [],
    published: { extentRecords: 0, dataBytes: 0, zeroBytes: 0, heartbeats: 0 },
    lastError: null,
    rebaselineRequested: null,
    ...overrides,
  };
}

function feedStatus(disks: DiskStatus[]): FeedStatus {
  return { feed: 'vm1', topic: 'extentlog.vm1.extents', sourceKind: 'image', paused: false, disks };
}

test('a syncing disk shows a bar, its position, the rate since it started and an ETA', () => {
  const clock = new CycleClock();
  const syncing = diskStatus({ phase: 'syncing', currentEpoch: 2 });
  clock.startOf('vm1/disk-0/2', 1_000);
  const lines = feedLines(
    feedStatus([
      {
        ...syncing,
        progress: {
          epoch: 2,
          mode: 'FULL',
          positionBytes: 25 * MiB,
          diskSizeBytes: 100 * MiB,
          extentRecords: 10,
          dataBytes: 20_000_000,
          zeroBytes: 5 * MiB,
        },
      },
    ]),
    clock,
    11_000,
  );
  assert.equal(lines[0], 'feed vm1 (image)');
  assert.match(lines[1]!, /disk-0 {2}FULL e2 {2}\[█{6}░{18}\] {3}25% {2}25\.0\/100\.0 MiB/);
  assert.match(lines[1]!, /2\.0 MB\/s {2}ETA 30s$/);
});

test('an idle disk shows its last commit; a target its restore point, lag and stops', () => {
  const idle = feedLines(
    feedStatus([diskStatus({ lastCommittedEpoch: 3, lastCommittedAtMs: 5_000 })]),
    new CycleClock(),
    8_000,
  );
  assert.equal(idle[1], '  disk-0  idle  committed e3 3s ago');
  const replay: ReplayStatus = {
    target: 'mirror-a',
    targetKind: 'file',
    groupId: 'g',
    paused: false,
    partitions: [
      {
        topic: 't',
        partition: 0,
        nextOffset: 10,
        committedOffset: 10,
        highWatermark: 15,
        paused: false,
      },
    ],
    disks: [
      {
        feed: 'vm1',
        diskId: 'disk-0',
        topic: 't',
        partition: 0,
        state: 'stopped',
        currentEpoch: null,
        lastRestorePoint: null,
        appliedRecords: 0,
        appliedBytes: 0,
        newestAppliedSourceTimeMs: 7_500,
        lastError: { code: 'EXTENTLOG_ERR_REPLAY_CRC', message: 'bad crc', atMs: 1 },
      },
    ],
  };
  assert.deepEqual(targetLines(replay, 8_000), [
    'target mirror-a (file)  lag 5 records',
    '  vm1/disk-0  no restore point yet  STOPPED EXTENTLOG_ERR_REPLAY_CRC: bad crc  lag 500ms',
  ]);
});

test('bars, durations, tables and log lines', () => {
  assert.equal(bar(0, 4), '[░░░░]');
  assert.equal(bar(2, 4), '[████]');
  assert.equal(bar(Number.NaN, 4), '[░░░░]');
  assert.equal(duration(65_000), '1m05s');
  assert.equal(duration(7_260_000), '2h01m');
  assert.equal(
    formatTable(
      [{ header: 'name' }, { header: 'n', align: 'right' }],
      [
        ['a', '1'],
        ['bbb', '100'],
      ],
    ),
    'name    n\n----  ---\na       1\nbbb   100',
  );
  const line = JSON.stringify({
    level: 40,
    time: Date.UTC(2024, 0, 1, 12, 3, 4),
    pid: 1,
    hostname: 'h',
    msg: 'heartbeat failed',
    feed: 'vm1',
    err: { message: 'no broker' },
    path: '/a b',
  });
  assert.match(
    formatLogLine(`${line}\n`),
    /^\d\d:\d\d:\d\d WARN {2}heartbeat failed feed=vm1 err="no broker" path="\/a b"$/,
  );
});

test('the display redraws in place and writes log lines above its block', () => {
  const written: string[] = [];
  const display = new ProgressDisplay(
    { write: (text: string) => written.push(text), columns: 40, rows: 10 },
    { intervalMs: 60_000, now: () => 0 },
  );
  display.setExtra(['step 1 of 3 — a line longer than the forty columns of this terminal']);
  display.log('first log line');
  display.setExtra(['step 2']);
  display.log('second log line');
  display.stop();
  assert.deepEqual(written, [
    'first log line\nstep 1 of 3 — a line longer than the f…\n',
    '\x1b[1F\x1b[Jsecond log line\nstep 2\n',
  ]);
});
