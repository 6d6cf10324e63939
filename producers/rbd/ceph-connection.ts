/**
 * The source's connection to a Ceph cluster (librados through the rbd addon), made on first
 * use and made again after a failure. librados' refusals become source errors an operator can
 * act on: an unreachable monitor (ETIMEDOUT and the like) is EXTENTLOG_ERR_SOURCE_CONNECT, a
 * refused cephx key (EACCES, EPERM) EXTENTLOG_ERR_SOURCE_AUTH. The key never reaches a message.
 */
import { errnoOf } from '../../native/errors.js';
import * as rbd from '../../native/rbd/index.js';
import { SourceError } from '../errors.js';

export interface CephConnection {
  cluster(): Promise<rbd.RbdCluster>;
  close(): Promise<void>;
}

const AUTH_ERRNOS = new Set(['EACCES', 'EPERM', 'EKEYREJECTED']);

function describe(options: rbd.RbdConnectOptions): string {
  const where =
    options.monHosts === undefined
      ? `conf ${options.confPath}`
      : `monitors ${options.monHosts.join(',')}`;
  return `client.${options.clientId ?? 'admin'} at ${where}`;
}

/** Translates a failed librados call into a source error naming the cluster. */
export function cephError(error: unknown, options: rbd.RbdConnectOptions, doing: string): unknown {
  const errno = errnoOf(error);
  if (errno === undefined) return error;
  const message = (error as Error).message;
  if (AUTH_ERRNOS.has(errno) && doing === 'connect')
    return new SourceError(
      'EXTENTLOG_ERR_SOURCE_AUTH',
      `Ceph refused ${describe(options)}: ${message}; check the cephx key or keyring and the client id`,
      { cause: error, details: { errno } },
    );
  if (doing === 'connect')
    return new SourceError(
      'EXTENTLOG_ERR_SOURCE_CONNECT',
      `could not connect ${describe(options)}: ${message}; check that the monitors are reachable${errno === 'ETIMEDOUT' ? ` (gave up after ${options.timeoutMs ?? 30_000} ms)` : ''}`,
      { cause: error, details: { errno } },
    );
  return new SourceError('EXTENTLOG_ERR_SOURCE_READ', `${doing}: ${message}`, {
    cause: error,
    details: { errno },
    retriable: true,
  });
}

export function createCephConnection(options: rbd.RbdConnectOptions): CephConnection {
  let connected: Promise<rbd.RbdCluster> | null = null;
  return {
    cluster() {
      connected ??= rbd.connect(options).catch((error: unknown) => {
        connected = null;
        throw cephError(error, options, 'connect');
      });
      return connected;
    },
    async close() {
      const cluster = await connected?.catch(() => null);
      connected = null;
      await cluster?.shutdown();
    },
  };
}
