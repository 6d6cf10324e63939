import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { bearerToken, readBearerTokenFile } from '../../../status/bearer-token.js';
import { LagBytesEstimator } from '../../../status/lag-bytes.js';
import { SampleRing } from '../../../status/sample-ring.js';
import { fieldPath } from '../../../status/validation-message.js';
import { createMirroredStatusView } from '../../../status/mirrored-status-view.js';
import type { HostRequest, Snapshot } from '../../../status/worker-protocol.js';
import { eventually } from '../../support/eventually.js';
import { FakeLog } from '../../support/fake-status-model.js';
import { tempDir } from '../../support/temp-dir.js';

const MiB = 1024 * 1024;

test('a sample ring keeps the newest samples, oldest first', () => {
  const ring = new SampleRing<number>(3);
  assert.deepEqual(ring.toArray(), []);
  assert.equal(ring.newest(), undefined);
  for (const value of [1, 2, 3, 4, 5]) ring.push(value);
  assert.deepEqual(ring.toArray(), [3, 4, 5]);
  assert.equal(ring.newest(), 5);
  assert.equal(ring.size, 3);
  assert.throws(() => new SampleRing(0), /positive integer/);
});

test('the bearer token accepts exactly itself', () => {
  const token = bearerToken('0123456789abcdef-token');
  assert.equal(token.accepts('Bearer 0123456789abcdef-token'), true);
  assert.equal(
    token.accepts('bearer 0123456789abcdef-token'),
    true,
    'the scheme is case-insensitive',
  );
  assert.equal(token.accepts('Bearer 0123456789abcdef-tokeN'), false);
  assert.equal(token.accepts('Bearer 0123456789abcdef-token-and-more'), false);
  assert.equal(token.accepts('Basic 0123456789abcdef-token'), false);
  assert.equal(token.accepts('0123456789abcdef-token'), false);
  assert.equal(token.accepts(undefined), false);
  assert.equal(token.accepts('Bearer '), false);
  assert.throws(() => bearerToken('short'), /at least 16/);
});

test('the token file: first line, trimmed; empty, short or missing files are refused', async (t) => {
  const dir = await tempDir(t, 'status-token');
  const file = path.join(dir.path, 'token');
  await writeFile(file, '  0123456789abcdef-token  \nignored\n', { mode: 0o600 });
  assert.equal(await readBearerTokenFile(file), '0123456789abcdef-token');
  await writeFile(file, '\n');
  await assert.rejects(readBearerTokenFile(file), {
    code: 'EXTENTLOG_ERR_STATUS_TOKEN_FILE',
    message: /is empty/,
  });
  await writeFile(file, 'short\n');
  await assert.rejects(readBearerTokenFile(file), /has 5 characters; at least 16/);
  await assert.rejects(readBearerTokenFile(path.join(dir.path, 'missing')), /cannot read/);
});

test('validation paths name the field the way a person writes it', () => {
  assert.equal(fieldPath('body', ''), 'body');
  assert.equal(fieldPath('body', '/reason'), 'body.reason');
  assert.equal(fieldPath('body', '/disks/0'), 'body.disks[0]');
  assert.equal(fieldPath('params', '/a~1b'), 'params.a/b');
});

test('lag bytes: short backlogs are summed exactly', async () => {
  const log = new FakeLog();
  log.append('t', 0, [10, 20, 30, 40]);
  const estimator = new LagBytesEstimator({ log, exactMaxRecords: 16 });
  // each record: a 1-byte key plus its value
  assert.deepEqual(await estimator.estimate('t', 0, 1, 4), { bytes: 93, method: 'exact' });
  assert.deepEqual(await estimator.estimate('t', 0, 4, 4), { bytes: 0, method: 'exact' });
});

test('lag bytes: long backlogs are sampled per stratum, so mixed record sizes are both counted', async () => {
  const log = new FakeLog();
  // a FULL epoch of 1 MiB extents, then a long run of 100-byte heartbeats
  const sizes = [...Array<number>(400).fill(MiB), ...Array<number>(400).fill(100)];
  log.append('t', 0, sizes);
  let nowMs = 0;
  const estimator = new LagBytesEstimator({ log, now: () => nowMs, refreshMs: 5000 });
  const exact = sizes.reduce((sum, size) => sum + size + 1, 0);
  const estimate = await estimator.estimate('t', 0, 0, 800);
  assert.equal(estimate.method, 'sampled');
  assert.ok(Math.abs(estimate.bytes! - exact) / exact < 0.01, `${estimate.bytes} vs ${exact}`);
  const reads = log.readRanges;
  assert.ok(reads <= 4, `one window per stratum, ${reads} reads`);

  // Within refreshMs the last measurement's mean is scaled, without reading the log.
  nowMs = 1000;
  const scaled = await estimator.estimate('t', 0, 400, 800);
  assert.equal(log.readRanges, reads);
  assert.equal(scaled.method, 'sampled');
  nowMs = 6000;
  const fresh = await estimator.estimate('t', 0, 400, 800);
  assert.ok(log.readRanges > reads);
  assert.equal(fresh.bytes, 400 * 101);
});

test('lag bytes: a short backlog that changed is read again at once', async () => {
  const log = new FakeLog();
  log.append('t', 0, [300, MiB, MiB]);
  const estimator = new LagBytesEstimator({ log, refreshMs: 60_000 });
  assert.deepEqual(await estimator.estimate('t', 0, 0, 1), { bytes: 301, method: 'exact' });
  assert.deepEqual(await estimator.estimate('t', 0, 0, 1), { bytes: 301, method: 'exact' });
  assert.equal(log.readRanges, 1, 'an unchanged range is not read again');
  assert.deepEqual(await estimator.estimate('t', 0, 0, 3), {
    bytes: 301 + 2 * (MiB + 1),
    method: 'exact',
  });
});

test('lag bytes: a range the log no longer holds is unknown, not zero', async () => {
  const log = new FakeLog();
  const estimator = new LagBytesEstimator({ log });
  assert.deepEqual(await estimator.estimate('gone', 0, 0, 5), { bytes: null, method: 'unknown' });
});

function snapshot(overrides: Partial<Snapshot> = {}): Snapshot {
  return {
    type: 'snapshot',
    atMs: 1,
    feeds: [],
    targets: [],
    problems: [],
    newSamples: [{ atMs: 1, targets: [] }],
    errors: [],
    readiness: { ready: true, checks: [{ name: 'log', ok: true, detail: 'fine' }] },
    liveness: { name: 'process', ok: true, detail: 'up' },
    metrics: { contentType: 'text/plain', text: '' },
    round: true,
    ...overrides,
  };
}

test('the mirrored view: history from snapshots, requests answered or refused by the host', async () => {
  const sent: HostRequest[] = [];
  const view = createMirroredStatusView({
    first: snapshot(),
    historySamples: 2,
    stallLimitMs: 60_000,
    send: (request) => sent.push(request),
  });
  view.accept(
    snapshot({
      newSamples: [
        { atMs: 2, targets: [] },
        { atMs: 3, targets: [] },
      ],
    }),
  );
  assert.deepEqual(
    view.lagHistory().map((sample) => sample.atMs),
    [2, 3],
  );
  const pause = view.actions.pauseFeed('vm1');
  const missing = view.actions.resumeTarget('nope');
  const odd = view.actions.syncNow('vm1');
  assert.deepEqual(
    sent.map((request) => [request.id, request.action]),
    [
      [1, 'pauseFeed'],
      [2, 'resumeTarget'],
      [3, 'syncNow'],
    ],
  );
  view.settle({ type: 'reply', id: 1, ok: true });
  view.settle({
    type: 'reply',
    id: 2,
    ok: false,
    code: 'EXTENTLOG_ERR_STATUS_NOT_FOUND',
    message: "no target 'nope'",
  });
  view.settle({
    type: 'reply',
    id: 3,
    ok: false,
    code: 'EXTENTLOG_ERR_SOURCE_READ',
    message: 'EIO',
  });
  await pause;
  await assert.rejects(missing, {
    code: 'EXTENTLOG_ERR_STATUS_NOT_FOUND',
    message: "no target 'nope'",
  });
  await assert.rejects(odd, { code: 'EXTENTLOG_ERR_STATUS_ACTION_FAILED', message: 'EIO' });
  const abandoned = view.restorePoints();
  view.abandon('closing');
  await assert.rejects(abandoned, /closing/);
});

test('the mirrored view turns unhealthy and unready when the host goes silent', async () => {
  const view = createMirroredStatusView({
    first: snapshot(),
    historySamples: 10,
    stallLimitMs: 20,
    send: () => undefined,
  });
  assert.equal(view.liveness().ok, true);
  assert.equal(view.readiness().ready, true);
  await eventually('the host to count as stuck', () => (view.liveness().ok ? undefined : true));
  assert.match(view.liveness().detail, /has not answered for \d+ ms/);
  assert.equal(view.readiness().ready, false);
  view.accept(snapshot());
  assert.equal(view.liveness().ok, true);
});
