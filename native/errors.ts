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
  EXTENTLOG_ERR_NATIVE_ISCSI_CONNECT: {
    summary:
      'the iSCSI portal could not be reached (refused, unreachable, timed out): check the address and that the target runs',
    retriable: true,
  },
  EXTENTLOG_ERR_NATIVE_ISCSI_LOGIN: {
    summary:
      'the iSCSI target refused the login (CHAP secret, unknown target IQN, initiator not allowed); the message gives its reason',
    retriable: false,
  },
  EXTENTLOG_ERR_NATIVE_ISCSI_NO_LUN: {
    summary: 'the iSCSI target has no logical unit of the configured number',
    retriable: false,
  },
  EXTENTLOG_ERR_NATIVE_ISCSI_SCSI: {
    summary:
      'a SCSI command failed; details carry the status and the sense key, ASC and ASCQ, the message their meaning',
    retriable: false,
  },
  EXTENTLOG_ERR_NATIVE_ISCSI_CONNECTION_LOST: {
    summary: 'the connection to the iSCSI target broke; commands in flight did not complete',
    retriable: true,
  },
  EXTENTLOG_ERR_NATIVE_ISCSI_TIMEOUT: {
    summary: 'an iSCSI command got no answer in time; the session was dropped',
    retriable: true,
  },
  EXTENTLOG_ERR_NATIVE_ISCSI_CLOSED: {
    summary: 'an iSCSI session was used after it was closed or went down',
    retriable: false,
  },
  EXTENTLOG_ERR_NATIVE_ISCSI_RESPONSE: {
    summary:
      'an iSCSI target returned parameter data that does not parse (too short, inconsistent)',
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
