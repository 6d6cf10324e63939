/**
 * Real NBD servers for tests: qemu-nbd (qemu-utils) and nbdkit, on unix sockets or
 * 127.0.0.1, each stopped by its PID when the test ends (and awaited, since qemu-nbd holds
 * the image's lock until it has exited). Also the TLS material they need: an X.509 CA and
 * server certificate made with openssl, and a PSK file.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { startServerProcess, type ServerProcess } from '../../producers/server-process.js';

const run = promisify(execFile);

export type Cleanup = (fn: () => Promise<unknown> | unknown) => void;

export interface RunningNbdServer {
  readonly process: ServerProcess;
  /** For NbdClient: a unix socket or 127.0.0.1:port. */
  readonly address: { socketPath: string } | { host: string; port: number };
  stop(): Promise<void>;
}

/** A TCP port that was free a moment ago. */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function tcpReady(port: number): () => Promise<boolean> {
  return () =>
    new Promise((resolve) => {
      const socket = net.connect({ host: '127.0.0.1', port });
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
}

async function started(
  cleanup: Cleanup,
  command: string,
  args: string[],
  listen: { socketPath: string } | { port: number },
): Promise<RunningNbdServer> {
  const process = await startServerProcess({
    command,
    args,
    ...('socketPath' in listen
      ? { listensOn: listen.socketPath }
      : { listensOn: `127.0.0.1:${listen.port}`, ready: tcpReady(listen.port) }),
  });
  cleanup(() => process.stop());
  return {
    process,
    address:
      'socketPath' in listen
        ? { socketPath: listen.socketPath }
        : { host: '127.0.0.1', port: listen.port },
    stop: () => process.stop(),
  };
}

export interface QemuNbdTestOptions {
  readonly image: string;
  readonly format: string;
  readonly exportName?: string;
  readonly bitmap?: string;
  readonly readOnly?: boolean;
  /** A directory with ca-cert.pem, server-cert.pem, server-key.pem: TLS is then required. */
  readonly tlsDir?: string;
  /** Listen here; default: a TCP port when `tcp`, else a socket in `dir`. */
  readonly dir: string;
  readonly tcp?: boolean;
}

export async function startQemuNbd(
  cleanup: Cleanup,
  options: QemuNbdTestOptions,
): Promise<RunningNbdServer> {
  const args = ['--format', options.format, '--persistent', '--shared', '8'];
  if (options.readOnly ?? true) args.push('--read-only');
  args.push('--export-name', options.exportName ?? '');
  if (options.bitmap !== undefined) args.push('--bitmap', options.bitmap);
  if (options.tlsDir !== undefined)
    args.push(
      '--object',
      `tls-creds-x509,id=tls0,dir=${options.tlsDir},endpoint=server,verify-peer=off`,
      '--tls-creds',
      'tls0',
    );
  let listen: { socketPath: string } | { port: number };
  if (options.tcp) {
    const port = await freePort();
    args.push('--bind', '127.0.0.1', '--port', String(port));
    listen = { port };
  } else {
    const socketPath = path.join(options.dir, `qemu-nbd-${randomBytes(4).toString('hex')}.sock`);
    args.push('--socket', socketPath);
    listen = { socketPath };
  }
  args.push(options.image);
  return started(cleanup, 'qemu-nbd', args, listen);
}

export interface NbdkitTestOptions {
  readonly dir: string;
  /** Plugin and its parameters, filters first: ['--filter=error', 'file', 'f.img', …]. */
  readonly args: readonly string[];
  readonly tcp?: boolean;
  /** e.g. ['--tls=require', '--tls-psk=/path/keys.psk']. */
  readonly serverOptions?: readonly string[];
}

export async function startNbdkit(
  cleanup: Cleanup,
  options: NbdkitTestOptions,
): Promise<RunningNbdServer> {
  const args = ['--foreground', '--exit-with-parent', ...(options.serverOptions ?? [])];
  let listen: { socketPath: string } | { port: number };
  if (options.tcp) {
    const port = await freePort();
    args.push('--ipaddr', '127.0.0.1', '--port', String(port));
    listen = { port };
  } else {
    const socketPath = path.join(options.dir, `nbdkit-${randomBytes(4).toString('hex')}.sock`);
    args.push('--unix', socketPath);
    listen = { socketPath };
  }
  args.push(...options.args);
  return started(cleanup, 'nbdkit', args, listen);
}

export interface TlsMaterial {
  /** Holds ca-cert.pem, server-cert.pem, server-key.pem (the layout qemu and nbdkit read). */
  readonly dir: string;
  readonly caCert: Buffer;
}

/** A CA and a server certificate for 127.0.0.1 / localhost, made with openssl. */
export async function makeTlsMaterial(dir: string): Promise<TlsMaterial> {
  await mkdir(dir, { recursive: true });
  const file = (name: string) => path.join(dir, name);
  await writeFile(
    file('server.ext'),
    [
      'basicConstraints=CA:FALSE',
      'keyUsage=digitalSignature,keyEncipherment',
      'extendedKeyUsage=serverAuth',
      'subjectAltName=IP:127.0.0.1,DNS:localhost',
    ].join('\n'),
  );
  const openssl = (...args: string[]) => run('openssl', args, { cwd: dir });
  await openssl(
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-days',
    '2',
    '-subj',
    '/CN=extentlog test CA',
    '-keyout',
    'ca-key.pem',
    '-out',
    'ca-cert.pem',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  );
  await openssl(
    'req',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-subj',
    '/CN=localhost',
    '-keyout',
    'server-key.pem',
    '-out',
    'server.csr',
  );
  await openssl(
    'x509',
    '-req',
    '-in',
    'server.csr',
    '-CA',
    'ca-cert.pem',
    '-CAkey',
    'ca-key.pem',
    '-CAcreateserial',
    '-days',
    '2',
    '-extfile',
    'server.ext',
    '-out',
    'server-cert.pem',
  );
  const { readFile } = await import('node:fs/promises');
  return { dir, caCert: await readFile(file('ca-cert.pem')) };
}

/** A PSK file in the `identity:hexkey` form nbdkit and psktool use. */
export async function makePskFile(
  filePath: string,
  identity: string,
): Promise<{ identity: string; key: Buffer }> {
  const key = randomBytes(32);
  await writeFile(filePath, `${identity}:${key.toString('hex')}\n`, { mode: 0o600 });
  return { identity, key };
}
