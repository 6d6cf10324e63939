/**
 * Request pacing for cloud APIs: a token bucket shared by every request of one adapter, so
 * that a source reading blocks with 64 requests in flight still stays under the account's
 * request-rate quota (EBS direct APIs and EC2 throttle per account and per snapshot).
 *
 * Implemented as the generic cell rate algorithm (GCRA, a token bucket seen as a schedule):
 * each request reserves the next slot `theoreticalAtMs` and waits until its slot lies within
 * the burst tolerance. Invariant: in any window of `windowMs`, at most
 * `burst + floor(windowMs × ratePerSecond / 1000)` requests start. Reservations are taken in
 * call order, so waiting callers are served first-come first-served.
 */
import { setTimeout as delay } from 'node:timers/promises';

export interface TokenBucketOptions {
  /** Sustained requests per second (> 0). */
  readonly ratePerSecond: number;
  /** Requests that may start back to back after an idle period (>= 1). */
  readonly burst: number;
  readonly now?: () => number;
  /** How a caller waits for its slot (a virtual clock in tests). */
  readonly sleep?: (waitMs: number, signal?: AbortSignal) => Promise<void>;
}

export class TokenBucket {
  readonly #intervalMs: number;
  readonly #toleranceMs: number;
  readonly #now: () => number;
  readonly #sleep: (waitMs: number, signal?: AbortSignal) => Promise<void>;
  #theoreticalAtMs = Number.NEGATIVE_INFINITY;

  constructor(options: TokenBucketOptions) {
    if (!(options.ratePerSecond > 0) || !Number.isFinite(options.ratePerSecond))
      throw new RangeError(
        `token bucket: ratePerSecond must be a positive number, received ${options.ratePerSecond}`,
      );
    if (!Number.isSafeInteger(options.burst) || options.burst < 1)
      throw new RangeError(
        `token bucket: burst must be an integer >= 1, received ${options.burst}`,
      );
    this.#intervalMs = 1000 / options.ratePerSecond;
    this.#toleranceMs = (options.burst - 1) * this.#intervalMs;
    this.#now = options.now ?? (() => performance.now());
    this.#sleep =
      options.sleep ??
      (async (waitMs, signal) => {
        await delay(waitMs, undefined, signal ? { signal } : {});
      });
  }

  /** Resolves when the caller may start one request, with the milliseconds it waited. */
  async take(signal?: AbortSignal): Promise<number> {
    const nowMs = this.#now();
    const slotMs = Math.max(this.#theoreticalAtMs, nowMs);
    this.#theoreticalAtMs = slotMs + this.#intervalMs;
    const waitMs = slotMs - this.#toleranceMs - nowMs;
    if (waitMs <= 0) return 0;
    await this.#sleep(Math.ceil(waitMs), signal);
    return Math.ceil(waitMs);
  }
}
