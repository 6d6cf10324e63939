/**
 * Cloud failures as the replay engine sees them: a `TargetError` of the given code that
 * keeps the cloud error's message, details and whether retrying can help (an expired
 * session token must stop the disk, throttling must be retried).
 */
import { describeError, ExtentlogError } from '../../errors/extentlog-error.js';
import { TargetError } from '../errors.js';

export function targetErrorOf(
  error: unknown,
  code: 'EXTENTLOG_ERR_TARGET_WRITE' | 'EXTENTLOG_ERR_TARGET_READ' | 'EXTENTLOG_ERR_TARGET_OPEN',
  what: string,
): TargetError {
  if (error instanceof TargetError) return error;
  const cloud = error instanceof ExtentlogError ? error : null;
  return new TargetError(code, `${what}: ${describeError(error)}`, {
    cause: error,
    ...(cloud === null ? {} : { retriable: cloud.retriable }),
    details: { ...(cloud?.details ?? {}), ...(cloud === null ? {} : { cloudCode: cloud.code }) },
  });
}
