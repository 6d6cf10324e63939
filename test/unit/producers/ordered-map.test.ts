import assert from 'node:assert/strict';
import { test } from 'node:test';
import { orderedMap } from '../../../producers/ordered-map.js';

/** Fails after `ms` unless `work` settles first: turns a hang into a failure. */
async function within<T>(ms: number, what: string, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([work, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

test('results come in input order with up to `concurrency` calls in flight', async () => {
  let inFlight = 0;
  let most = 0;
  const results: number[] = [];
  for await (const value of orderedMap([5, 1, 4, 2, 3, 0], 3, async (delay) => {
    inFlight += 1;
    most = Math.max(most, inFlight);
    for (let turn = 0; turn < delay; turn += 1)
      await new Promise((resolve) => setImmediate(resolve));
    inFlight -= 1;
    return delay * 10;
  })) {
    results.push(value);
  }
  assert.deepEqual(results, [50, 10, 40, 20, 30, 0]);
  assert.equal(most, 3);
});

test('a finished result is handed on while the source waits for more input', async () => {
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  async function* quietAfterFirst() {
    yield 1;
    await released; // the next item only exists once the consumer saw the first
    yield 2;
  }
  const seen: number[] = [];
  await within(
    5000,
    'the consumer',
    (async () => {
      for await (const value of orderedMap(quietAfterFirst(), 4, async (item) => item)) {
        seen.push(value);
        if (value === 1) release();
      }
    })(),
  );
  assert.deepEqual(seen, [1, 2]);
});

test('the first failure is thrown in order, and leaving early does not wait for a quiet source', async () => {
  await assert.rejects(
    (async () => {
      for await (const _ of orderedMap([1, 2, 3], 2, async (item) => {
        if (item === 2) throw new Error('two failed');
        return item;
      })) {
        // consume
      }
    })(),
    /two failed/,
  );
  async function* neverEnds() {
    yield 1;
    await new Promise<void>(() => undefined);
  }
  await within(
    5000,
    'leaving the loop',
    (async () => {
      for await (const value of orderedMap(neverEnds(), 2, async (item) => item)) {
        assert.equal(value, 1);
        break;
      }
    })(),
  );
});
