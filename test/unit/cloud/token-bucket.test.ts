import assert from 'node:assert/strict';
import { test } from 'node:test';
import { backoffDelayMs } from '../../../cloud/backoff.js';
import { TokenBucket } from '../../../cloud/token-bucket.js';
import { awsErrorFacts } from '../../../cloud/aws/aws-error-kinds.js';
import { createAwsCaller } from '../../../cloud/aws/aws-caller.js';
import { CloudError } from '../../../cloud/errors.js';

test('the token bucket lets a burst through, then paces to its rate', async () => {
  const nowMs = 0;
  const bucket = new TokenBucket({ ratePerSecond: 100, burst: 3, now: () => nowMs });
  const started: number[] = [];
  // Virtual time: each take() that must wait is resolved by advancing the clock.
  for (let index = 0; index < 3; index++) {
    await bucket.take();
    started.push(nowMs);
  }
  assert.deepEqual(started, [0, 0, 0], 'the burst starts at once');
  const before = performance.now();
  await bucket.take();
  assert.ok(performance.now() - before >= 5, 'the fourth request waits for the next slot');
});

test('the token bucket never admits more than burst + rate × window', async () => {
  const bucket = new TokenBucket({ ratePerSecond: 200, burst: 2 });
  const times: number[] = [];
  const origin = performance.now();
  await Promise.all(
    Array.from({ length: 40 }, async () => {
      await bucket.take();
      times.push(performance.now() - origin);
    }),
  );
  times.sort((a, b) => a - b);
  for (let first = 0; first < times.length; first++) {
    const windowEnd = times[first]! + 50;
    const inWindow = times.filter((at) => at >= times[first]! && at < windowEnd).length;
    assert.ok(inWindow <= 2 + 10 + 1, `at most 13 starts in 50 ms, saw ${inWindow}`);
  }
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
