/**
 * The byte stream under an NBD connection: a unix socket or TCP, upgraded in place to TLS
 * after NBD_OPT_STARTTLS (proto.md "TLS support": the client sends STARTTLS, the server
 * answers NBD_REP_ACK, and every later byte is TLS).
 *
 * Without TLS the socket reads straight into the reader's buffers (`onread` with a buffer
 * per read): while a reply's data is expected, the kernel copies it into the destination
 * buffer of the request, so read data is never copied in user space; headers and metadata
 * land in a small scratch buffer. With TLS, decrypted chunks are copied once into place.
 *
 *   socket ──read()──▶ scratch (64 KiB) ──sink.bytes()──▶ headers, metadata, stray data
 *          └─read()──▶ sink.directTarget() ──sink.directBytes(n)──▶ (zero-copy data)
 */
import net from 'node:net';
import tls from 'node:tls';
import { describeError } from '../../errors/extentlog-error.js';
import { NbdError } from './errors.js';

export type NbdAddress =
  { readonly socketPath: string } | { readonly host: string; readonly port: number };

export interface NbdTlsOptions {
  /** PEM CA certificate(s) that sign the server's certificate. */
  readonly ca?: string | Buffer;
  /** PEM client certificate and key, when the server asks for one. */
  readonly cert?: string | Buffer;
  readonly key?: string | Buffer;
  /** Name the server's certificate must carry (default: the host, or 'localhost' for sockets). */
  readonly servername?: string;
  readonly rejectUnauthorized?: boolean;
  /** TLS-PSK (nbdkit --tls-psk, qemu tls-creds-psk): identity and key. */
  readonly psk?: { readonly identity: string; readonly key: Buffer };
}

/** Receives what a connection reads. */
export interface ByteSink {
  /** Bytes that arrived; the view is valid only during the call. */
  bytes(chunk: Buffer): void;
  /** Where the next bytes belong, to be read without a copy; null when unknown. */
  directTarget(): Buffer | null;
  /** `lengthBytes` bytes were read into the last `directTarget()`. */
  directBytes(lengthBytes: number): void;
  /** How many bytes to read when there is no direct target: no more than the sink needs. */
  scratchBytes?(): number;
  /** The stream ended: null when the peer closed it, else the failure. */
  ended(error: Error | null): void;
}

const SCRATCH_BYTES = 64 * 1024;

export function describeAddress(address: NbdAddress): string {
  return 'socketPath' in address ? `unix:${address.socketPath}` : `${address.host}:${address.port}`;
}

export class NbdTransport {
  readonly address: NbdAddress;
  #socket: net.Socket;
  #sink: ByteSink | null = null;
  #zeroCopy: boolean;
  readonly #scratch = Buffer.allocUnsafe(SCRATCH_BYTES);
  #given: Buffer | null = null;
  #givenDirect = false;
  #ended = false;
  readonly #closed: Promise<void>;

  private constructor(address: NbdAddress, socket: net.Socket, zeroCopy: boolean) {
    this.address = address;
    this.#socket = socket;
    this.#zeroCopy = zeroCopy;
    this.#closed = new Promise((resolve) => socket.once('close', () => resolve()));
    this.#listen(socket);
  }

  /** Connects; `zeroCopy` reads into the sink's buffers (not possible once TLS is used). */
  static async connect(
    address: NbdAddress,
    options: { readonly zeroCopy: boolean; readonly timeoutMs: number },
  ): Promise<NbdTransport> {
    let transport: NbdTransport | null = null;
    const onread = options.zeroCopy
      ? {
          buffer: () =>
            transport === null ? Buffer.allocUnsafe(SCRATCH_BYTES) : transport.#nextBuffer(),
          callback: (lengthBytes: number, buffer: Uint8Array) => {
            if (transport !== null) transport.#onRead(lengthBytes, buffer);
            return true;
          },
        }
      : undefined;
    const socket =
      'socketPath' in address
        ? net.connect({ path: address.socketPath, ...(onread ? { onread } : {}) })
        : net.connect({
            host: address.host,
            port: address.port,
            noDelay: true,
            ...(onread ? { onread } : {}),
          });
    transport = new NbdTransport(address, socket, options.zeroCopy);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        socket.destroy();
        reject(
          new NbdError(
            'EXTENTLOG_ERR_NBD_CONNECT',
            `NBD server ${describeAddress(address)} did not accept the connection within ${options.timeoutMs} ms`,
            { details: { address: describeAddress(address) } },
          ),
        );
      }, options.timeoutMs);
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.removeListener('error', onError);
        resolve();
      });
      const onError = (error: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        reject(
          new NbdError(
            'EXTENTLOG_ERR_NBD_CONNECT',
            `cannot connect to NBD server ${describeAddress(address)}: ${describeError(error)}${
              error.code === 'ENOENT' ? ' (no such socket: is the server running?)' : ''
            }`,
            { cause: error, details: { address: describeAddress(address), errno: error.code } },
          ),
        );
      };
      socket.once('error', onError);
    });
    return transport;
  }

  setSink(sink: ByteSink): void {
    this.#sink = sink;
  }

  write(data: Buffer): void {
    this.#socket.write(data);
  }

  /** Batches the writes made until the next tick into as few packets as possible. */
  cork(): void {
    this.#socket.cork();
    process.nextTick(() => this.#socket.uncork());
  }

  /** Upgrades to TLS after the server acknowledged NBD_OPT_STARTTLS. */
  async startTls(options: NbdTlsOptions): Promise<void> {
    if (this.#zeroCopy)
      throw new NbdError(
        'EXTENTLOG_ERR_NBD_CONFIG',
        'TLS was requested on a connection opened for zero-copy reads; connect with zeroCopy: false',
      );
    const raw = this.#socket;
    raw.removeAllListeners('data');
    raw.removeAllListeners('end');
    raw.removeAllListeners('error');
    const servername =
      options.servername ?? ('host' in this.address ? this.address.host : 'localhost');
    const secure = tls.connect({
      socket: raw,
      ...(net.isIP(servername) === 0 ? { servername } : {}),
      ...(options.ca === undefined ? {} : { ca: options.ca }),
      ...(options.cert === undefined ? {} : { cert: options.cert }),
      ...(options.key === undefined ? {} : { key: options.key }),
      rejectUnauthorized: options.rejectUnauthorized ?? true,
      minVersion: 'TLSv1.2',
      ...(options.psk === undefined
        ? {}
        : {
            // PSK suites are off by default; TLS 1.3 here has no external-PSK support.
            maxVersion: 'TLSv1.2' as const,
            ciphers:
              'ECDHE-PSK-AES256-CBC-SHA384:DHE-PSK-AES256-GCM-SHA384:PSK-AES256-GCM-SHA384:PSK-AES128-GCM-SHA256',
            pskCallback: () => ({ psk: options.psk!.key, identity: options.psk!.identity }),
            checkServerIdentity: () => undefined,
          }),
    });
    await new Promise<void>((resolve, reject) => {
      secure.once('secureConnect', () => {
        secure.removeListener('error', reject);
        resolve();
      });
      secure.once('error', reject);
    }).catch((error: unknown) => {
      secure.destroy();
      throw new NbdError(
        'EXTENTLOG_ERR_NBD_TLS',
        `TLS handshake with NBD server ${describeAddress(this.address)} failed: ${describeError(error)}; check the CA, certificates or pre-shared key`,
        { cause: error, details: { address: describeAddress(this.address) } },
      );
    });
    this.#socket = secure;
    this.#listen(secure);
  }

  /** Closes after pending writes; resolves once the socket is closed. */
  async end(): Promise<void> {
    this.#socket.end();
    const timer = setTimeout(() => this.#socket.destroy(), 5000);
    await this.#closed;
    clearTimeout(timer);
  }

  destroy(): void {
    this.#socket.destroy();
  }

  #listen(socket: net.Socket): void {
    if (!this.#zeroCopy) socket.on('data', (chunk: Buffer) => this.#sink?.bytes(chunk));
    socket.on('end', () => this.#finish(null));
    socket.on('error', (error) => this.#finish(error));
    socket.on('close', () => this.#finish(null));
  }

  #finish(error: Error | null): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#sink?.ended(error);
  }

  #nextBuffer(): Buffer {
    const target = this.#sink?.directTarget() ?? null;
    // Never hand out an empty buffer: libuv reports ENOBUFS for it.
    if (target !== null && target.length > 0) {
      this.#given = target;
      this.#givenDirect = true;
      return target;
    }
    // Reading no further than a reply's header keeps the data after it for a direct read.
    const wanted = this.#sink?.scratchBytes?.() ?? SCRATCH_BYTES;
    this.#given =
      wanted > 0 && wanted < SCRATCH_BYTES ? this.#scratch.subarray(0, wanted) : this.#scratch;
    this.#givenDirect = false;
    return this.#given;
  }

  #onRead(lengthBytes: number, buffer: Uint8Array): void {
    if (buffer === this.#given && this.#givenDirect) this.#sink?.directBytes(lengthBytes);
    else this.#sink?.bytes(Buffer.from(buffer.buffer, buffer.byteOffset, lengthBytes));
  }
}
