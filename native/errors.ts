/**
 * Errors of the native addons and their TypeScript wrappers. A failed syscall keeps the
 * kernel's answer: `details.errno` ('EOPNOTSUPP', 'ENOTTY', …), `details.errnoNumber`,
 * `details.syscall`, plus the fd, path and range it was called with, so callers can pick a
 * fallback by errno and operators can read what the kernel refused.
 */
import { defineErrorArea, type ErrorCodeTable } from '../errors/extentlog-error.js';

export const NATIVE_ERRORS = {
  EXTENTLOG_ERR_NATIVE_NOT_BUILT: {
    summary:
      'a native addon is not built: install its system library (named in the message) and run `npm run build:native`',
    retriable: false,
  },
  EXTENTLOG_ERR_NATIVE_INVALID_ARGUMENT: {
    summary: 'a native call was given an argument out of range (a bug in the caller)',
    retriable: false,
  },
  EXTENTLOG_ERR_NATIVE_BAD_RECORD: {
    summary:
      'a kernel journal record or answer could not be decoded: the extentlog module and this build speak different versions of kmod/uapi/extentlog.h',
    retriable: false,
  },
  EXTENTLOG_ERR_NATIVE_SYSCALL: {
    summary:
      'the kernel refused a native call; details carry errno and syscall (EINTR/EAGAIN/EBUSY are retriable)',
    retriable: false,
  },
} as const satisfies ErrorCodeTable;

export class NativeError extends defineErrorArea('NativeError', NATIVE_ERRORS) {}

/** The errno name ('EOPNOTSUPP', …) of a failed native call, or undefined for any other error. */
export function errnoOf(error: unknown): string | undefined {
  if (!(error instanceof NativeError) || error.code !== 'EXTENTLOG_ERR_NATIVE_SYSCALL')
    return undefined;
  const errno = error.details.errno;
  return typeof errno === 'string' ? errno : undefined;
}
