import assert from 'node:assert/strict';
import { test } from 'node:test';
import { backoffDelayMs } from '../../../cloud/backoff.js';
import { TokenBucket } from '../../../cloud/token-bucket.js';
import { awsErrorFacts } from '../../../cloud/aws/aws-error-kinds.js';
import { createAwsCaller } from '../../../cloud/aws/aws-caller.js';
import { CloudError } from '../../../cloud/errors.js';

/** A bucket on a virtual clock: waiting costs no time, `take` says when the caller starts. */
function virtualBucket(ratePerSecond: number, burst: number) {
  const bucket = new TokenBucket({
    ratePerSecond,
    burst,
    now: () => 0,
    sleep: async () => undefined,
  });
  return { startMs: async () => bucket.take() };
}

test('the token bucket lets a burst through, then paces to its rate', async () => {
  const { startMs } = virtualBucket(100, 3);
  const started: number[] = [];
  for (let index = 0; index < 5; index++) started.push(await startMs());
  assert.deepEqual(started, [0, 0, 0, 10, 20], 'the burst at once, then one per 10 ms');
});

test('the token bucket never admits more than burst + rate × window', async () => {
  const { startMs } = virtualBucket(200, 2);
  const times = (await Promise.all(Array.from({ length: 40 }, () => startMs()))).sort(
    (a, b) => a - b,
  );
  assert.equal(times.at(-1), 190, 'the 40th request starts 38 intervals of 5 ms after the burst');
  for (let first = 0; first < times.length; first++) {
    const windowEnd = times[first]! + 50;
    const inWindow = times.filter((at) => at >= times[first]! && at < windowEnd).length;
    assert.ok(inWindow <= 2 + 10, `at most 12 starts in 50 ms, saw ${inWindow}`);
  }
});

test('the token bucket waits on the real clock by default', async () => {
  const bucket = new TokenBucket({ ratePerSecond: 10, burst: 1 });
  assert.equal(await bucket.take(), 0);
  const before = performance.now();
  const waitedMs = await bucket.take();
  assert.ok(waitedMs > 0 && waitedMs <= 100, `the second request waits its slot: ${waitedMs} ms`);
  assert.ok(performance.now() - before >= waitedMs - 1, 'and the wait is real');
});

test('back-off delays grow exponentially under a cap, with full jitter', () => {
  const policy = { maxAttempts: 10, baseDelayMs: 100, maxDelayMs: 1000 };
  assert.equal(
    backoffDelayMs(policy, 1, () => 0.999),
    99,
  );
  assert.equal(
    backoffDelayMs(policy, 3, () => 0.5),
    200,
  );
  assert.equal(
    backoffDelayMs(policy, 9, () => 0.999),
    999,
  );
  assert.equal(
    backoffDelayMs(policy, 4, () => 0),
    0,
  );
});

test('AWS errors are classified by code, status and network errno', () => {
  const kind = (error: unknown) => awsErrorFacts(error).kind;
  assert.equal(
    kind({ name: 'ThrottlingException', $metadata: { httpStatusCode: 400 } }),
    'throttle',
  );
  assert.equal(
    kind({ name: 'RequestThrottledException', Reason: 'ACCOUNT_THROTTLED' }),
    'throttle',
  );
  assert.equal(kind({ name: 'RequestLimitExceeded' }), 'throttle');
  assert.equal(kind({ name: 'Whatever', $metadata: { httpStatusCode: 503 } }), 'server');
  assert.equal(kind(Object.assign(new Error('reset'), { code: 'ECONNRESET' })), 'server');
  assert.equal(kind({ name: 'ExpiredTokenException' }), 'auth');
  assert.equal(
    kind({ name: 'InvalidSignatureException', message: 'Signature expired: x' }),
    'clock',
  );
  assert.equal(kind({ name: 'InvalidSnapshot.NotFound' }), 'not-found');
  assert.equal(kind({ name: 'ValidationException', Reason: 'INVALID_BLOCK_TOKEN' }), 'invalid');
});

test('the caller retries throttling and translates the final failure', async () => {
  const caller = createAwsCaller({
    bucket: new TokenBucket({ ratePerSecond: 10_000, burst: 100 }),
    retry: { maxAttempts: 4, baseDelayMs: 1, maxDelayMs: 2 },
  });
  let calls = 0;
  const value = await caller.call('Op', async () => {
    calls += 1;
    if (calls < 3) throw Object.assign(new Error('slow down'), { name: 'ThrottlingException' });
    return 42;
  });
  assert.equal(value, 42);
  assert.equal(calls, 3);

  await assert.rejects(
    caller.call('GetSnapshotBlock snap-1 block 7', async () => {
      throw Object.assign(new Error('busy'), { name: 'ThrottlingException' });
    }),
    (error: unknown) =>
      error instanceof CloudError &&
      error.code === 'EXTENTLOG_ERR_CLOUD_THROTTLED' &&
      error.message.includes('after 4 attempts') &&
      error.message.includes('GetSnapshotBlock snap-1 block 7'),
  );
  await assert.rejects(
    caller.call('ListSnapshotBlocks snap-1', async () => {
      throw Object.assign(new Error('The security token included in the request is expired'), {
        name: 'ExpiredTokenException',
        $metadata: { httpStatusCode: 403 },
      });
    }),
    (error: unknown) =>
      error instanceof CloudError &&
      error.code === 'EXTENTLOG_ERR_CLOUD_AUTH' &&
      error.retriable === false &&
      /expired/.test(error.message),
  );
});
