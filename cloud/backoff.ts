/**
 * Retry timing for cloud API calls: exponential back-off with "full jitter" (a delay drawn
 * uniformly from [0, min(maxDelayMs, baseDelayMs × 2^attempt))), which spreads the retries
 * of many concurrent callers so that a throttled API is not hit again in lock-step.
 */

export interface RetryPolicy {
  /** Attempts in all, the first included (>= 1). */
  readonly maxAttempts: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  maxAttempts: 10,
  baseDelayMs: 100,
  maxDelayMs: 20_000,
};

/** The delay before retry number `attempt` (1 for the first retry). */
export function backoffDelayMs(
  policy: RetryPolicy,
  attempt: number,
  random: () => number = Math.random,
): number {
  const ceilingMs = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
  return Math.floor(random() * ceilingMs);
}
