/**
 * The error values an NBD server may put in a reply (proto.md "Error values"), translated
 * into extentlog errors: each value says what it means for a reader of a snapshot export
 * and whether trying again can help.
 */
import { NbdError } from './errors.js';

interface ServerErrorInfo {
  readonly name: string;
  readonly meaning: string;
  readonly retriable: boolean;
}

const SERVER_ERRORS: ReadonlyMap<number, ServerErrorInfo> = new Map([
  [1, { name: 'EPERM', meaning: 'operation not permitted (read-only export?)', retriable: false }],
  [5, { name: 'EIO', meaning: 'input/output error on the server', retriable: true }],
  [12, { name: 'ENOMEM', meaning: 'the server is out of memory', retriable: true }],
  [
    22,
    {
      name: 'EINVAL',
      meaning: 'invalid argument (a request beyond the export, bad flags or an unknown command)',
      retriable: false,
    },
  ],
  [28, { name: 'ENOSPC', meaning: 'no space left on the server', retriable: false }],
  [
    75,
    {
      name: 'EOVERFLOW',
      meaning: 'value too large: the request is longer than the server will answer in one reply',
      retriable: false,
    },
  ],
  [95, { name: 'ENOTSUP', meaning: 'operation not supported by the export', retriable: false }],
  [
    108,
    {
      name: 'ESHUTDOWN',
      meaning: 'the server is shutting down',
      retriable: true,
    },
  ],
]);

export function serverErrorInfo(errno: number): ServerErrorInfo {
  return (
    SERVER_ERRORS.get(errno) ?? {
      name: `E${errno}`,
      meaning: `error value ${errno}, which the NBD protocol does not define`,
      retriable: false,
    }
  );
}

/** The error for a reply carrying `errno`; `what` names the request ("NBD_CMD_READ of …"). */
export function serverError(
  errno: number,
  what: string,
  serverMessage: string,
  details: Readonly<Record<string, unknown>>,
): NbdError {
  const info = serverErrorInfo(errno);
  const said = serverMessage === '' ? '' : `; the server said: ${serverMessage}`;
  return new NbdError(
    'EXTENTLOG_ERR_NBD_SERVER',
    `${what} failed with ${info.name} (${info.meaning})${said}`,
    { retriable: info.retriable, details: { ...details, errno: info.name, errnoValue: errno } },
  );
}
