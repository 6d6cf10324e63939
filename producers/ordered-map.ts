/**
 * Maps an async sequence with up to `concurrency` calls of `fn` in flight and yields the
 * results in the input's order — the read-ahead of a sync cycle: while one piece is being
 * published, the next pieces are already being read. Memory is bounded by `concurrency`
 * results. The first failure is thrown in order; later in-flight calls are awaited and
 * dropped.
 */
export async function* orderedMap<T, R>(
  source: AsyncIterable<T> | Iterable<T>,
  concurrency: number,
  fn: (item: T) => Promise<R>,
): AsyncGenerator<R, void, undefined> {
  const window: Promise<{ ok: true; value: R } | { ok: false; error: unknown }>[] = [];
  const settle = (promise: Promise<R>) =>
    promise.then(
      (value) => ({ ok: true as const, value }),
      (error: unknown) => ({ ok: false as const, error }),
    );
  try {
    for await (const item of source) {
      window.push(settle(fn(item)));
      if (window.length >= concurrency) {
        const result = await window.shift()!;
        if (!result.ok) throw result.error;
        yield result.value;
      }
    }
    while (window.length > 0) {
      const result = await window.shift()!;
      if (!result.ok) throw result.error;
      yield result.value;
    }
  } finally {
    await Promise.all(window.splice(0));
  }
}
