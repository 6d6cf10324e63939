import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FlushScheduler } from '../../../log/broker/storage/flush-scheduler.js';

/** A flush whose completion the test controls; counts how many ran. */
function controlledFlush() {
  const started: (() => void)[] = [];
  let failNext = false;
  return {
    started,
    failNext: () => (failNext = true),
    flush: () =>
      new Promise<void>((resolve, reject) => {
        const fail = failNext;
        failNext = false;
        started.push(() => (fail ? reject(new Error('EIO')) : resolve()));
      }),
  };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

test('requests during a running flush share exactly one next flush', async () => {
  const control = controlledFlush();
  const scheduler = new FlushScheduler(control.flush, () => assert.fail('no background flush'));
  const order: string[] = [];
  const first = scheduler.flushNow().then(() => order.push('first'));
  assert.equal(control.started.length, 1);
  const followers = [1, 2, 3].map((index) =>
    scheduler.flushNow().then(() => order.push(`follower ${index}`)),
  );
  assert.equal(control.started.length, 1, 'no second flush while one runs');
  control.started[0]!();
  await first;
  await tick();
  assert.deepEqual(order, ['first'], 'followers wait for a flush that started after them');
  assert.equal(control.started.length, 2);
  control.started[1]!();
  await Promise.all(followers);
  assert.equal(control.started.length, 2);
});

test('a failed flush rejects its waiters and the next request flushes again', async () => {
  const control = controlledFlush();
  const scheduler = new FlushScheduler(control.flush, () => undefined);
  control.failNext();
  const failing = scheduler.flushNow();
  control.started[0]!();
  await assert.rejects(failing, /EIO/);
  const retry = scheduler.flushNow();
  control.started[1]!();
  await retry;
});

test('flushWithin arms one timer for many writes', async () => {
  const control = controlledFlush();
  const scheduler = new FlushScheduler(control.flush, () => undefined);
  for (let index = 0; index < 10; index += 1) scheduler.flushWithin(1);
  const deadline = Date.now() + 5000;
  while (control.started.length === 0 && Date.now() < deadline) await tick();
  assert.equal(control.started.length, 1);
  control.started[0]!();
  await tick();
  scheduler.flushWithin(60_000);
  scheduler.cancelTimer();
  assert.equal(control.started.length, 1);
});
