/**
 * Maps an async sequence with up to `concurrency` calls of `fn` in flight and yields the
 * results in the input's order — the read-ahead of a sync cycle: while one piece is being
 * published, the next pieces are already being read. Memory is bounded by `concurrency`
 * results. The first failure is thrown in order; later in-flight calls are awaited and
 * dropped.
 *
 * A finished result is yielded as soon as everything before it is, without waiting for
 * more input: a CONTINUOUS source may go quiet for a long time right after a consistency
 * point, and that point must not sit in the window until the next write arrives.
 */
type Settled<R> = { ok: true; value: R } | { ok: false; error: unknown };

export async function* orderedMap<T, R>(
  source: AsyncIterable<T> | Iterable<T>,
  concurrency: number,
  fn: (item: T) => Promise<R>,
): AsyncGenerator<R, void, undefined> {
  const iterator =
    Symbol.asyncIterator in source
      ? source[Symbol.asyncIterator]()
      : (source as Iterable<T>)[Symbol.iterator]();
  const window: Promise<Settled<R>>[] = [];
  const settle = (promise: Promise<R>): Promise<Settled<R>> =>
    promise.then(
      (value) => ({ ok: true as const, value }),
      (error: unknown) => ({ ok: false as const, error }),
    );
  let input: Promise<IteratorResult<T>> | null = null;
  let exhausted = false;
  try {
    for (;;) {
      if (!exhausted && window.length < concurrency) {
        input ??= Promise.resolve(iterator.next());
        // With results in flight, take whichever comes first: more input or the oldest result.
        const next =
          window.length === 0
            ? await input
            : await Promise.race([input, window[0]!.then(() => null)]);
        if (next !== null) {
          input = null;
          if (next.done) exhausted = true;
          else window.push(settle(fn(next.value)));
          continue;
        }
      }
      const head = window.shift();
      if (head === undefined) return;
      const result = await head;
      if (!result.ok) throw result.error;
      yield result.value;
    }
  } finally {
    await Promise.all(window.splice(0));
    void input?.catch(() => undefined);
    // A source still producing its next item is told to stop without waiting for it: a
    // quiet CONTINUOUS source would hold the caller until its next write.
    if (!exhausted) void Promise.resolve(iterator.return?.()).catch(() => undefined);
  }
}
