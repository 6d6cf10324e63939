/**
 * Group commit. `flushNow()` resolves after a flush that started after the call, so every
 * write that completed before the call is covered by it. Calls arriving while a flush runs
 * share the next one: one fsync serves every append that queued behind the running one.
 * `flushWithin(delayMs)` is the lazy variant for acks=0/1 writes: at most one timer is armed.
 */
export class FlushScheduler {
  private running = false;
  private waiting: Deferred | null = null;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly flush: () => Promise<void>,
    /** Failures of timer-driven flushes (nobody awaits them). */
    private readonly onBackgroundError: (error: unknown) => void,
  ) {}

  flushNow(): Promise<void> {
    this.waiting ??= deferred();
    const { promise } = this.waiting;
    if (!this.running) this.start();
    return promise;
  }

  flushWithin(delayMs: number): void {
    if (this.timer !== null) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.flushNow().catch(this.onBackgroundError);
    }, delayMs);
  }

  /** Cancels a pending timer; a flush already running completes. */
  cancelTimer(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  private start(): void {
    const waiters = this.waiting;
    if (waiters === null) return;
    this.waiting = null;
    this.running = true;
    this.flush()
      .then(waiters.resolve, waiters.reject)
      .finally(() => {
        this.running = false;
        this.start();
      });
  }
}

interface Deferred {
  readonly promise: Promise<void>;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

function deferred(): Deferred {
  let resolve!: () => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<void>((resolvePromise, rejectPromise) => {
    resolve = resolvePromise;
    reject = rejectPromise;
  });
  return { promise, resolve, reject };
}
