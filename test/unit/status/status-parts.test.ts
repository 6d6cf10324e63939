import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { bearerToken, readBearerTokenFile } from '../../../status/bearer-token.js';
import { LagBytesEstimator } from '../../../status/lag-bytes.js';
import { SampleRing } from '../../../status/sample-ring.js';
import { fieldPath } from '../../../status/validation-message.js';
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
  assert.equal((await readBearerTokenFile(file)).accepts('Bearer 0123456789abcdef-token'), true);
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
