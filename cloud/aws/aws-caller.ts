/**
 * Every AWS request of one adapter goes through its `AwsCaller`: one token from the shared
 * bucket per attempt (retries included), retries with jittered back-off for what AWS asks
 * clients to retry (throttling, 5xx, network; see aws-error-kinds.ts), and one translation of
 * the final failure into a `CloudError` that names the call. The SDK clients are built with
 * `maxAttempts: 1`, so this is the only retry loop and the bucket sees every attempt.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { CloudError } from '../errors.js';
import { backoffDelayMs, DEFAULT_RETRY_POLICY, type RetryPolicy } from '../backoff.js';
import type { TokenBucket } from '../token-bucket.js';
import { awsErrorFacts, type AwsErrorFacts } from './aws-error-kinds.js';

export interface AwsCallerOptions {
  readonly bucket: TokenBucket;
  readonly retry?: RetryPolicy;
  /** Called before each retry (for logs and status). */
  readonly onRetry?: (what: string, attempt: number, delayMs: number, facts: AwsErrorFacts) => void;
  readonly random?: () => number;
}

export interface AwsCaller {
  /** Runs `send` (one attempt) until it succeeds or fails for good. `what` names the call in errors. */
  call<T>(what: string, send: () => Promise<T>): Promise<T>;
}

const RETRIED = new Set(['throttle', 'server']);
/** A clock error is retried this often: the SDK has corrected its clock offset by then. */
const CLOCK_ATTEMPTS = 2;

export function createAwsCaller(options: AwsCallerOptions): AwsCaller {
  const policy = options.retry ?? DEFAULT_RETRY_POLICY;
  return {
    async call<T>(what: string, send: () => Promise<T>): Promise<T> {
      for (let attempt = 1; ; attempt++) {
        await options.bucket.take();
        try {
          return await send();
        } catch (error) {
          if (error instanceof CloudError) throw error;
          const facts = awsErrorFacts(error);
          const again =
            (RETRIED.has(facts.kind) && attempt < policy.maxAttempts) ||
            (facts.kind === 'clock' && attempt < CLOCK_ATTEMPTS);
          if (!again) throw translate(what, facts, attempt, error);
          const delayMs = backoffDelayMs(policy, attempt, options.random);
          options.onRetry?.(what, attempt, delayMs, facts);
          await delay(delayMs);
        }
      }
    },
  };
}

const FIXES: Readonly<Record<string, string>> = {
  auth: 'check the credentials the default chain finds (environment, profile, credentials file, instance role); session credentials expire and must be refreshed',
  clock: "the request's signing time is off: check this machine's clock",
  throttle: 'lower maxRequestsPerSecond or the concurrency, or raise the account quota',
  server: 'the service kept failing; the next cycle tries again',
};

export function translate(
  what: string,
  facts: AwsErrorFacts,
  attempts: number,
  cause: unknown,
): CloudError {
  const code =
    facts.kind === 'throttle' || facts.kind === 'server'
      ? 'EXTENTLOG_ERR_CLOUD_THROTTLED'
      : facts.kind === 'auth' || facts.kind === 'clock'
        ? 'EXTENTLOG_ERR_CLOUD_AUTH'
        : facts.kind === 'not-found'
          ? 'EXTENTLOG_ERR_CLOUD_NOT_FOUND'
          : 'EXTENTLOG_ERR_CLOUD_REQUEST';
  const status = facts.httpStatus === null ? '' : ` (HTTP ${facts.httpStatus})`;
  const reason = facts.reason === null ? '' : ` [${facts.reason}]`;
  const tries = attempts > 1 ? ` after ${attempts} attempts` : '';
  const fix = FIXES[facts.kind];
  return new CloudError(
    code,
    `${what} failed${tries}: AWS ${facts.awsCode}${reason}${status}: ${facts.message}${fix === undefined ? '' : ` — ${fix}`}`,
    {
      cause,
      details: {
        awsCode: facts.awsCode,
        awsReason: facts.reason,
        httpStatus: facts.httpStatus,
        requestId: facts.requestId,
        attempts,
      },
    },
  );
}
