/**
 * An NBD client for reading exports (NetworkBlockDevice/nbd doc/proto.md): NBD_CMD_READ and
 * NBD_CMD_BLOCK_STATUS (with `base:allocation` and `qemu:dirty-bitmap:NAME` contexts) over
 * one or more connections to the same export (see nbd-connection.ts for one connection).
 *
 * Reads are split into requests of at most `maxRequestBytes` (and the server's maximum
 * block size), aligned to its minimum block size, spread over the connections, and fill
 * one buffer that the caller gets as is: each reply's data is written where it belongs as
 * it arrives, with no copy in between. Several connections are used only when the server
 * sets NBD_FLAG_CAN_MULTI_CONN ("Transmission flags"); a failure of one fails the client.
 */
import { NbdError } from './errors.js';
import { NBD_CMD } from './nbd-constants.js';
import { NbdConnection, type ConnectionOptions } from './nbd-connection.js';
import type { ExportInfo } from './nbd-handshake.js';
import type { NbdAddress, NbdTlsOptions } from './nbd-transport.js';
import type { StatusDescriptor } from './reply-parser.js';

export type { ExportInfo } from './nbd-handshake.js';
export type { NbdAddress, NbdTlsOptions } from './nbd-transport.js';
export type { StatusDescriptor } from './reply-parser.js';

export interface NbdClientOptions {
  readonly address: NbdAddress;
  readonly exportName: string;
  /** Metadata contexts to select: 'base:allocation', 'qemu:dirty-bitmap:NAME', … */
  readonly metaContexts?: readonly string[];
  /** Insist on TLS (STARTTLS first); without it, a server that requires TLS is an error. */
  readonly tls?: NbdTlsOptions;
  /** Connection and handshake deadline (default 10 s). */
  readonly connectTimeoutMs?: number;
  /** Requests in flight per connection at most (default 16). */
  readonly maxInFlight?: number;
  /** Largest single NBD_CMD_READ (default 256 KiB; the server's maximum wins if smaller). */
  readonly maxRequestBytes?: number;
  /** Connections to open when the server allows several (default 1). */
  readonly connections?: number;
}

const MiB = 1024 * 1024;
// qemu-nbd answers 256 KiB requests, many in flight, far faster than fewer large ones.
const DEFAULT_MAX_REQUEST_BYTES = 256 * 1024;
const DEFAULT_MAX_IN_FLIGHT = 16;
const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
/** NBD_CMD_BLOCK_STATUS's length is 32 bits. */
const MAX_STATUS_REQUEST_BYTES = 0xffffffff;

function configError(message: string): NbdError {
  return new NbdError('EXTENTLOG_ERR_NBD_CONFIG', `NBD client: ${message}`);
}

function connectionOptions(options: NbdClientOptions): ConnectionOptions {
  const address = options.address as Partial<{ socketPath: string; host: string; port: number }>;
  if (address.socketPath === undefined) {
    if (typeof address.host !== 'string' || address.host === '')
      throw configError('address needs a socketPath, or a host and a port');
    if (!Number.isInteger(address.port) || address.port! <= 0 || address.port! > 65535)
      throw configError(`address.port must be 1-65535, received ${String(address.port)}`);
  } else if (address.socketPath === '') throw configError('address.socketPath is empty');
  if (typeof options.exportName !== 'string')
    throw configError(`exportName must be a string, received ${typeof options.exportName}`);
  const { maxInFlight, maxRequestBytes, connections } = options;
  if (maxInFlight !== undefined && (!Number.isInteger(maxInFlight) || maxInFlight < 1))
    throw configError(`maxInFlight must be a positive integer, received ${maxInFlight}`);
  if (
    maxRequestBytes !== undefined &&
    (!Number.isInteger(maxRequestBytes) || maxRequestBytes < 512 || maxRequestBytes > 64 * MiB)
  )
    throw configError(`maxRequestBytes must be 512 to 67108864, received ${maxRequestBytes}`);
  if (
    connections !== undefined &&
    (!Number.isInteger(connections) || connections < 1 || connections > 16)
  )
    throw configError(`connections must be 1 to 16, received ${connections}`);
  if (options.tls?.psk !== undefined && options.tls.psk.key.length === 0)
    throw configError('tls.psk.key is empty');
  return {
    address: options.address,
    exportName: options.exportName,
    metaContexts: options.metaContexts ?? [],
    tls: options.tls,
    connectTimeoutMs: options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
    maxInFlight: maxInFlight ?? DEFAULT_MAX_IN_FLIGHT,
  };
}

export class NbdClient {
  readonly peer: string;
  readonly export: ExportInfo;
  /** Selected metadata contexts, name → id. */
  readonly metaContexts: ReadonlyMap<string, number>;
  readonly #connections: readonly NbdConnection[];
  readonly #maxRequestBytes: number;
  readonly #contextNames: ReadonlyMap<number, string>;
  #failure: NbdError | null = null;
  #closing = false;

  private constructor(connections: readonly NbdConnection[], maxRequestBytes: number | undefined) {
    const first = connections[0]!;
    this.peer = first.peer;
    this.export = first.export;
    this.metaContexts = first.metaContexts;
    this.#connections = connections;
    const { minimumBytes, maximumBytes } = first.export.blockSize;
    const wanted = Math.min(maxRequestBytes ?? DEFAULT_MAX_REQUEST_BYTES, maximumBytes);
    this.#maxRequestBytes = Math.max(
      minimumBytes,
      Math.floor(wanted / minimumBytes) * minimumBytes,
    );
    this.#contextNames = new Map([...first.metaContexts].map(([name, id]) => [id, name]));
    for (const connection of connections)
      connection.onFailure = (error) => {
        this.#failure ??= error;
        for (const other of this.#connections) if (other !== connection) other.destroy(error);
      };
  }

  /** Connects and enters the transmission phase on `exportName`. */
  static async connect(options: NbdClientOptions): Promise<NbdClient> {
    const perConnection = connectionOptions(options);
    const first = await NbdConnection.open(perConnection);
    const count = first.export.canMultiConn ? (options.connections ?? 1) : 1;
    const more = await Promise.allSettled(
      Array.from({ length: count - 1 }, () => NbdConnection.open(perConnection)),
    );
    const opened = [
      first,
      ...more.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : [])),
    ];
    const failed = more.find((result) => result.status === 'rejected');
    if (failed !== undefined) {
      await Promise.allSettled(opened.map((connection) => connection.close()));
      throw (failed as PromiseRejectedResult).reason;
    }
    return new NbdClient(opened, options.maxRequestBytes);
  }

  /**
   * Describes an export without entering transmission (NBD_OPT_INFO and
   * NBD_OPT_LIST_META_CONTEXT, then NBD_OPT_ABORT).
   */
  static probe(options: NbdClientOptions): Promise<{ export: ExportInfo; metaContexts: string[] }> {
    return NbdConnection.probe(connectionOptions(options));
  }

  get sizeBytes(): number {
    return this.export.sizeBytes;
  }

  /** Largest single read request, after the server's limits. */
  get maxRequestBytes(): number {
    return this.#maxRequestBytes;
  }

  get connectionCount(): number {
    return this.#connections.length;
  }

  /** Reads `lengthBytes` at `offsetBytes` into a new buffer. */
  async read(offsetBytes: number, lengthBytes: number): Promise<Buffer> {
    this.#checkRange('read', offsetBytes, lengthBytes);
    const minimum = this.export.blockSize.minimumBytes;
    const start = Math.floor(offsetBytes / minimum) * minimum;
    const end = Math.min(
      this.sizeBytes,
      Math.ceil((offsetBytes + lengthBytes) / minimum) * minimum,
    );
    const buffer = Buffer.allocUnsafeSlow(end - start);
    await this.#readAligned(start, buffer);
    return start === offsetBytes && buffer.length === lengthBytes
      ? buffer
      : buffer.subarray(offsetBytes - start, offsetBytes - start + lengthBytes);
  }

  /**
   * Reads `buffer.length` bytes at `offsetBytes` into the caller's buffer (which may be
   * reused across reads). Offset and length must be multiples of the export's minimum
   * block size (1 for qemu-nbd and nbdkit), or end at the export's end.
   */
  async readInto(offsetBytes: number, buffer: Buffer): Promise<void> {
    this.#checkRange('read', offsetBytes, buffer.length);
    const minimum = this.export.blockSize.minimumBytes;
    const end = offsetBytes + buffer.length;
    if (offsetBytes % minimum !== 0 || (end % minimum !== 0 && end !== this.sizeBytes))
      throw new NbdError(
        'EXTENTLOG_ERR_NBD_REQUEST',
        `readInto of ${buffer.length} bytes at offset ${offsetBytes} is not aligned to the export's minimum block size of ${minimum} bytes; use read()`,
      );
    await this.#readAligned(offsetBytes, buffer);
  }

  async #readAligned(startBytes: number, buffer: Buffer): Promise<void> {
    const pieces: Promise<unknown>[] = [];
    for (let at = 0; at < buffer.length; at += this.#maxRequestBytes) {
      const pieceBytes = Math.min(this.#maxRequestBytes, buffer.length - at);
      pieces.push(
        this.#leastLoaded().submit(
          NBD_CMD.READ,
          startBytes + at,
          pieceBytes,
          buffer.subarray(at, at + pieceBytes),
        ),
      );
    }
    const results = await Promise.allSettled(pieces);
    const failed = results.find((result) => result.status === 'rejected');
    if (failed !== undefined) throw (failed as PromiseRejectedResult).reason;
  }

  /**
   * Block status of [offsetBytes, offsetBytes + lengthBytes) for every selected context,
   * by context name. The server may describe less than asked (at least one descriptor).
   */
  async blockStatus(
    offsetBytes: number,
    lengthBytes: number,
  ): Promise<Map<string, StatusDescriptor[]>> {
    if (this.metaContexts.size === 0)
      throw new NbdError(
        'EXTENTLOG_ERR_NBD_REQUEST',
        `block status on ${this.peer}: no metadata context was selected; pass metaContexts when connecting`,
      );
    this.#checkRange('block status', offsetBytes, lengthBytes);
    const request = await this.#leastLoaded().submit(
      NBD_CMD.BLOCK_STATUS,
      offsetBytes,
      Math.min(lengthBytes, MAX_STATUS_REQUEST_BYTES),
      null,
    );
    const byName = new Map<string, StatusDescriptor[]>();
    for (const [id, descriptors] of request.statuses)
      byName.set(this.#contextNames.get(id)!, descriptors);
    return byName;
  }

  /** Waits for requests in flight, sends NBD_CMD_DISC on every connection and closes them. */
  async close(): Promise<void> {
    this.#closing = true;
    await Promise.all(this.#connections.map((connection) => connection.close()));
  }

  /** Drops every connection now; requests in flight fail. */
  destroy(): void {
    this.#closing = true;
    for (const connection of this.#connections) connection.destroy();
  }

  #leastLoaded(): NbdConnection {
    let best = this.#connections[0]!;
    for (const connection of this.#connections) if (connection.load < best.load) best = connection;
    return best;
  }

  #checkRange(what: string, offsetBytes: number, lengthBytes: number): void {
    const failure = this.#failure ?? this.#connections[0]!.failure;
    if (failure !== null && failure.code !== 'EXTENTLOG_ERR_NBD_CLOSED') throw failure;
    if (this.#closing)
      throw new NbdError('EXTENTLOG_ERR_NBD_CLOSED', `${what} on ${this.peer} after close()`);
    if (
      !Number.isSafeInteger(offsetBytes) ||
      !Number.isSafeInteger(lengthBytes) ||
      offsetBytes < 0 ||
      lengthBytes <= 0 ||
      offsetBytes + lengthBytes > this.sizeBytes
    )
      throw new NbdError(
        'EXTENTLOG_ERR_NBD_REQUEST',
        `${what} of ${lengthBytes} bytes at offset ${offsetBytes} does not fit export '${this.export.name}' of ${this.sizeBytes} bytes on ${this.peer}`,
        { details: { offsetBytes, lengthBytes, sizeBytes: this.sizeBytes } },
      );
  }
}
