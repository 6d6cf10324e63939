/**
 * Long polls on a partition's high watermark (Fetch with maxWaitMs): each waiter resolves
 * once the high watermark passes its offset, on its timeout, on its abort signal, or when
 * the partition closes or goes offline — whichever comes first. Waiters never reject.
 */
interface Waiter {
  readonly offset: number;
  readonly wake: () => void;
}

export class HighWatermarkWaiters {
  private readonly waiters = new Set<Waiter>();

  wait(offset: number, timeoutMs: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', wake);
        this.waiters.delete(waiter);
        resolve();
      };
      const waiter: Waiter = { offset, wake };
      const timer = setTimeout(wake, timeoutMs);
      signal?.addEventListener('abort', wake, { once: true });
      this.waiters.add(waiter);
    });
  }

  /** Wakes the waiters whose offset is now below the high watermark. */
  advance(highWatermark: number): void {
    for (const waiter of this.waiters) if (highWatermark > waiter.offset) waiter.wake();
  }

  wakeAll(): void {
    for (const waiter of this.waiters) waiter.wake();
  }
}
