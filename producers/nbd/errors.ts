/**
 * Errors of the NBD client. A code names what went wrong on the wire or at the server;
 * server error values (EIO, EINVAL, ENOSPC, …) are translated through the table in
 * `nbd-server-errors.ts` into EXTENTLOG_ERR_NBD_SERVER with the errno name in `details`.
 */
import { defineErrorArea, type ErrorCodeTable } from '../../errors/extentlog-error.js';

export const NBD_ERRORS = {
  EXTENTLOG_ERR_NBD_CONFIG: {
    summary: 'an NBD client option is invalid (address, export name, TLS credentials, limits)',
    retriable: false,
  },
  EXTENTLOG_ERR_NBD_CONNECT: {
    summary: 'the NBD server could not be reached (socket missing, connection refused, timed out)',
    retriable: true,
  },
  EXTENTLOG_ERR_NBD_HANDSHAKE: {
    summary:
      'the peer is not a fixed-newstyle NBD server, or it answered an option in a way the protocol does not allow',
    retriable: false,
  },
  EXTENTLOG_ERR_NBD_TLS_REQUIRED: {
    summary: 'the NBD server requires TLS and the client has no TLS credentials configured',
    retriable: false,
  },
  EXTENTLOG_ERR_NBD_TLS: {
    summary:
      'the NBD server refused STARTTLS, or the TLS handshake failed (certificate, CA or pre-shared key)',
    retriable: false,
  },
  EXTENTLOG_ERR_NBD_EXPORT: {
    summary: 'the NBD server refused the export (unknown name, policy, or it is shutting down)',
    retriable: false,
  },
  EXTENTLOG_ERR_NBD_UNSUPPORTED: {
    summary: 'the NBD server lacks a feature the client needs (structured replies, block status)',
    retriable: false,
  },
  EXTENTLOG_ERR_NBD_META_CONTEXT: {
    summary: 'the NBD server does not offer a requested metadata context',
    retriable: false,
  },
  EXTENTLOG_ERR_NBD_PROTOCOL: {
    summary:
      'the NBD server broke the protocol in the transmission phase (wrong magic, unknown reply type, unknown handle, malformed chunk); the connection was dropped',
    retriable: false,
  },
  EXTENTLOG_ERR_NBD_DISCONNECTED: {
    summary:
      'the NBD connection ended while requests were in flight (server exited or dropped the connection)',
    retriable: true,
  },
  EXTENTLOG_ERR_NBD_SERVER: {
    summary:
      'the NBD server answered a request with an error value (EIO, EINVAL, ENOSPC, EOVERFLOW, …); details.errno names it',
    retriable: true,
  },
  EXTENTLOG_ERR_NBD_REQUEST: {
    summary: 'a request lies outside the export or breaks its size limits (a bug in the caller)',
    retriable: false,
  },
  EXTENTLOG_ERR_NBD_CLOSED: {
    summary: 'the NBD client was used after close()',
    retriable: false,
  },
} as const satisfies ErrorCodeTable;

export class NbdError extends defineErrorArea('NbdError', NBD_ERRORS) {}
