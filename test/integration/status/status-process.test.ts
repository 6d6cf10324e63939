/**
 * The status API of a running extentlog process during a real replication (image source →
 * embedded broker → file target), driven only over HTTP: actions need the token, bad
 * parameters are refused, and a paused target's lag rises in records, bytes and seconds,
 * then falls to zero once it is resumed. `extentlog status` reads the same process.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { eventually } from '../../support/eventually.js';
import { makeImage, patternBytes, sha256OfFile, writeAt } from '../../support/image-files.js';
import { startStatusProcess, statusApi } from '../../support/status-process.js';
import { tempDir } from '../../support/temp-dir.js';

const run = promisify(execFile);
const MiB = 1024 * 1024;
const TOKEN = 'status-process-test-token-0123';
const EXTENTLOG = fileURLToPath(new URL('../../../bin/extentlog.js', import.meta.url));

interface TargetAnswer {
  lag: {
    sampledAtMs: number | null;
    records: number | null;
    bytes: number | null;
    seconds: number | null;
  };
  paused: boolean;
  disks: { lastRestorePoint: { epoch: number } | null; lagSeconds: number | null }[];
}

interface FeedAnswer {
  disks: {
    lastCommittedEpoch: number | null;
    phase: string;
    lastCycle: { changeMap: { bucketBytes: number; changedBytes: number[] } } | null;
  }[];
}

test('a paused target falls behind and catches up, as the status API of the running process shows', async (t) => {
  const dir = await tempDir(t, 'status-process');
  const source = path.join(dir.path, 'source.img');
  await makeImage(source, 4 * MiB, 32 * MiB);
  const tokenFile = path.join(dir.path, 'status-token');
  await writeFile(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
  const imagePath = path.join(dir.path, 'mirror', '{feed}-{disk}.img');
  const child = await startStatusProcess(dir, 'replicator', {
    dataDir: path.join(dir.path, 'data'),
    feeds: [
      {
        name: 'vm1',
        source: { type: 'image', disks: [{ id: 'disk-0', path: source }] },
        heartbeatIntervalMs: 0,
        maxRecordBytes: 256 * 1024,
      },
    ],
    targets: [
      { type: 'file', name: 'mirror', feeds: ['vm1'], path: imagePath, flushIntervalMs: 100 },
    ],
    status: { port: 0, tokenFile, sampleIntervalMs: 200 },
  });
  const api = statusApi(child.url);
  const target = async () =>
    (await api.get('/api/v1/targets/mirror')).body as unknown as TargetAnswer;
  const feed = async () => (await api.get('/api/v1/feeds/vm1')).body as unknown as FeedAnswer;
  const restorePointEpoch = async () => (await target()).disks[0]?.lastRestorePoint?.epoch ?? 0;

  // Actions: no token → 401; bad parameters → 400 naming the field.
  const bare = await api.post('/api/v1/feeds/vm1/sync');
  assert.equal(bare.status, 401);
  assert.equal(bare.body.code, 'EXTENTLOG_ERR_STATUS_UNAUTHORIZED');
  const bad = await api.post('/api/v1/feeds/vm1/disks/disk-0/rebaseline', {
    token: TOKEN,
    body: { reason: 'x', syncNow: 'yes' },
  });
  assert.equal(bad.status, 400);
  assert.match(String(bad.body.message), /body\.syncNow: must be boolean/);

  // The first cycle (FULL), through the API; the target catches up completely.
  assert.equal((await api.post('/api/v1/feeds/vm1/sync', { token: TOKEN })).status, 202);
  await eventually(
    'restore point of epoch 1',
    async () => ((await restorePointEpoch()) >= 1 ? true : undefined),
    60_000,
  );
  await eventually('lag 0 after the first cycle', async () => {
    const lag = (await target()).lag;
    return lag.records === 0 && lag.seconds === 0 ? true : undefined;
  });

  // Paused, the target falls behind while the feed commits two more epochs.
  assert.deepEqual((await api.post('/api/v1/targets/mirror/pause', { token: TOKEN })).body, {
    target: 'mirror',
    paused: true,
  });
  const behind: number[] = [];
  for (const [epoch, offsetBytes] of [
    [2, 8 * MiB],
    [3, 20 * MiB],
  ] as const) {
    await writeAt(source, offsetBytes, patternBytes(MiB, epoch));
    assert.equal((await api.post('/api/v1/feeds/vm1/sync', { token: TOKEN })).status, 202);
    await eventually(`epoch ${epoch} committed`, async () =>
      (await feed()).disks[0]?.lastCommittedEpoch === epoch ? true : undefined,
    );
    // A lag sample taken after the commit covers the whole epoch.
    const committedAtMs = Date.now();
    const lag = await eventually(`a lag sample after epoch ${epoch}`, async () => {
      const answer = await target();
      return (answer.lag.sampledAtMs ?? 0) > committedAtMs ? answer.lag : undefined;
    });
    behind.push(lag.records!);
    assert.ok(
      lag.bytes !== null && lag.bytes >= MiB * (epoch - 1),
      `${lag.bytes} bytes behind after epoch ${epoch}`,
    );
    assert.ok(lag.seconds !== null && lag.seconds > 0, `lag in seconds ${lag.seconds}`);
  }
  assert.ok(behind[1]! > behind[0]!, `lag rose: ${behind.join(' → ')} records`);
  assert.equal(await restorePointEpoch(), 1, 'nothing was applied while paused');
  const changeMap = (await feed()).disks[0]!.lastCycle!.changeMap;
  const changedBuckets = changeMap.changedBytes.flatMap((bytes, bucket) =>
    bytes > 0 ? [bucket] : [],
  );
  assert.deepEqual(
    [changedBuckets[0], changedBuckets[changedBuckets.length - 1]],
    [(20 * MiB) / changeMap.bucketBytes, (21 * MiB) / changeMap.bucketBytes - 1],
    'the change map shows where epoch 3 wrote',
  );

  const metrics = await fetch(`${child.url}/metrics`).then((response) => response.text());
  assert.match(
    metrics,
    new RegExp(
      `extentlog_target_lag_records\\{target="mirror",topic="extentlog.vm1.extents",partition="0"\\} ${behind[1]}\\n`,
    ),
  );

  // `extentlog status` sees the same: problems (a paused target), exit code 1.
  const paused = await run(process.execPath, [EXTENTLOG, 'status', '--url', child.url]).then(
    () => assert.fail('exit code 0 while a target is paused'),
    (error: { code: number; stdout: string }) => error,
  );
  assert.equal(paused.code, 1);
  assert.match(paused.stdout, /target mirror: paused/);
  assert.match(paused.stdout, /^mirror +vm1\/disk-0 +paused /m);

  // Resumed, it catches up: lag 0 in records, bytes and seconds, and the image matches.
  assert.equal((await api.post('/api/v1/targets/mirror/resume', { token: TOKEN })).status, 200);
  await eventually(
    'caught up after resume',
    async () => {
      const answer = await target();
      return answer.lag.records === 0 &&
        answer.lag.bytes === 0 &&
        answer.lag.seconds === 0 &&
        answer.disks[0]?.lastRestorePoint?.epoch === 3
        ? true
        : undefined;
    },
    60_000,
  );
  assert.equal(
    await sha256OfFile(path.join(dir.path, 'mirror', 'vm1-disk-0.img')),
    await sha256OfFile(source),
  );

  // Restore points per target and disk, newest first, as the restore-points topic holds them.
  const { restorePoints } = (await api.get('/api/v1/restore-points?target=mirror')).body as {
    restorePoints: {
      target: string;
      disk: string;
      points: { epoch: number; digest: string; sourceReference: string; committedAtMs: number }[];
    }[];
  };
  assert.equal(restorePoints.length, 1);
  assert.equal(restorePoints[0]!.disk, 'disk-0');
  const [newest] = restorePoints[0]!.points;
  assert.equal(newest?.epoch, 3);
  assert.match(newest!.digest, /^[0-9a-f]{64}$/);
  assert.ok(newest!.sourceReference.length > 0 && newest!.committedAtMs > 0);

  const { stdout } = await run(process.execPath, [EXTENTLOG, 'status', '--url', child.url]);
  assert.match(stdout, /: all 1 target disk protected/);
  assert.match(stdout, /^vm1 +disk-0 +idle +3 +INCREMENTAL/m);
  assert.match(stdout, /^mirror +vm1\/disk-0 +between-epochs +0\.0 s +0 rec \/ 0 B +epoch 3,/m);

  await child.stop();
});
