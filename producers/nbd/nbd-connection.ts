/**
 * One NBD connection (NetworkBlockDevice/nbd doc/proto.md): the fixed newstyle handshake —
 * NBD_OPT_STARTTLS first when TLS is configured, NBD_OPT_STRUCTURED_REPLY,
 * NBD_OPT_SET_META_CONTEXT, NBD_OPT_GO — then the transmission phase: requests with
 * distinct handles, up to `maxInFlight` at once, their replies matched by handle in any
 * order (reply-parser.ts), NBD_CMD_DISC to end ("Terminating the transmission phase").
 *
 * Any protocol violation or loss of the connection fails every request in flight with the
 * same error, and every later request too: a connection is never reused after a failure.
 */
import { NbdError } from './errors.js';
import { HandshakeInput } from './handshake-input.js';
import { NBD_CMD, NBD_REQUEST_MAGIC, REQUEST_HEADER_BYTES } from './nbd-constants.js';
import { Negotiation, type ExportInfo } from './nbd-handshake.js';
import {
  NbdTransport,
  describeAddress,
  type NbdAddress,
  type NbdTlsOptions,
} from './nbd-transport.js';
import { ReplyParser, inFlightRequest, type InFlightRequest } from './reply-parser.js';

export interface ConnectionOptions {
  readonly address: NbdAddress;
  readonly exportName: string;
  readonly metaContexts: readonly string[];
  readonly tls: NbdTlsOptions | undefined;
  readonly connectTimeoutMs: number;
  readonly maxInFlight: number;
}

interface Negotiating {
  readonly transport: NbdTransport;
  readonly input: HandshakeInput;
  readonly negotiation: Negotiation;
  readonly structured: boolean;
}

/** Connects, greets, upgrades to TLS if asked and negotiates structured replies. */
async function negotiate(options: ConnectionOptions): Promise<Negotiating> {
  const peer = describeAddress(options.address);
  const timeoutMs = options.connectTimeoutMs;
  const transport = await NbdTransport.connect(options.address, {
    zeroCopy: options.tls === undefined,
    timeoutMs,
  });
  const input = new HandshakeInput(peer);
  transport.setSink(input);
  const negotiation = new Negotiation(transport, input, peer);
  try {
    const structured = await withDeadline(timeoutMs, peer, transport, async () => {
      await negotiation.greet();
      if (options.tls !== undefined) {
        await negotiation.startTls();
        await transport.startTls(options.tls);
      }
      return negotiation.structuredReplies();
    });
    return { transport, input, negotiation, structured };
  } catch (error) {
    await endNegotiation(negotiation, transport, error);
    throw error;
  }
}

async function withDeadline<T>(
  timeoutMs: number,
  peer: string,
  transport: NbdTransport,
  work: () => Promise<T>,
): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      transport.destroy();
      reject(
        new NbdError(
          'EXTENTLOG_ERR_NBD_CONNECT',
          `NBD server ${peer} did not complete the handshake within ${timeoutMs} ms`,
          { details: { peer } },
        ),
      );
    }, timeoutMs);
  });
  try {
    return await Promise.race([work(), deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** Option errors leave the handshake in step: end it politely (proto.md: soft disconnect). */
async function endNegotiation(
  negotiation: Negotiation,
  transport: NbdTransport,
  error: unknown,
): Promise<void> {
  const inStep =
    error instanceof NbdError &&
    [
      'EXTENTLOG_ERR_NBD_EXPORT',
      'EXTENTLOG_ERR_NBD_META_CONTEXT',
      'EXTENTLOG_ERR_NBD_UNSUPPORTED',
      'EXTENTLOG_ERR_NBD_TLS_REQUIRED',
    ].includes(error.code);
  if (!inStep) return transport.destroy();
  await negotiation.abort().catch(() => undefined);
  await transport.end().catch(() => transport.destroy());
}

/** Request headers written together (see #send). */
const BATCH_REQUESTS = 4;

export class NbdConnection {
  readonly peer: string;
  readonly export: ExportInfo;
  /** Selected metadata contexts, name → id. */
  readonly metaContexts: ReadonlyMap<string, number>;
  readonly #transport: NbdTransport;
  readonly #parser: ReplyParser;
  readonly #inFlight = new Map<number, InFlightRequest>();
  readonly #maxInFlight: number;
  /** Requests issued or waiting for a slot, so that close() can wait for them. */
  readonly #settling = new Set<Promise<unknown>>();
  #waiting: (() => void)[] = [];
  #outgoing: Buffer[] = [];
  #flushScheduled = false;
  /** Requests written to the server and not answered yet. */
  #sentOutstanding = 0;
  #slotsUsed = 0;
  #nextHandle = 1;
  #failure: NbdError | null = null;
  #closing = false;
  /** Told once when the connection fails (not when it is closed). */
  onFailure: ((error: NbdError) => void) | null = null;

  private constructor(
    options: ConnectionOptions,
    transport: NbdTransport,
    info: ExportInfo,
    contexts: ReadonlyMap<string, number>,
    structured: boolean,
  ) {
    this.peer = describeAddress(options.address);
    this.export = info;
    this.metaContexts = contexts;
    this.#transport = transport;
    this.#maxInFlight = options.maxInFlight;
    this.#parser = new ReplyParser({
      peer: this.peer,
      structured,
      contextIds: new Set(contexts.values()),
      request: (handle) => this.#inFlight.get(handle),
      done: (request) => {
        this.#inFlight.delete(request.handle);
        this.#sentOutstanding -= 1;
        if (this.#outgoing.length > 0) this.#scheduleFlush();
      },
      fatal: (error) => this.#fatal(error),
    });
    transport.setSink(this.#parser);
  }

  /** Connects and enters the transmission phase on the export. */
  static async open(options: ConnectionOptions): Promise<NbdConnection> {
    const { transport, input, negotiation, structured } = await negotiate(options);
    try {
      const wanted = options.metaContexts;
      let contexts = new Map<string, number>();
      if (wanted.length > 0) {
        if (!structured)
          throw new NbdError(
            'EXTENTLOG_ERR_NBD_UNSUPPORTED',
            `NBD server ${describeAddress(options.address)} has no structured replies, so no metadata contexts (${wanted.join(', ')})`,
          );
        contexts = await negotiation.setMetaContexts(options.exportName, wanted);
        const missing = wanted.filter((name) => !contexts.has(name));
        if (missing.length > 0) {
          const offered = await negotiation.listMetaContexts(options.exportName, []);
          throw new NbdError(
            'EXTENTLOG_ERR_NBD_META_CONTEXT',
            `export '${options.exportName}' on NBD server ${describeAddress(options.address)} offers no metadata context ${missing.map((name) => `'${name}'`).join(', ')} (it offers: ${offered.join(', ') || 'none'})`,
            { details: { exportName: options.exportName, missing, offered } },
          );
        }
      }
      const info = await negotiation.go(options.exportName);
      const connection = new NbdConnection(options, transport, info, contexts, structured);
      // Nothing may follow the final NBD_OPT_GO reply unasked; if it does, the parser says so.
      const stray = input.takeRemaining();
      if (stray.length > 0) connection.#parser.bytes(stray);
      return connection;
    } catch (error) {
      await endNegotiation(negotiation, transport, error);
      throw error;
    }
  }

  /** NBD_OPT_INFO and NBD_OPT_LIST_META_CONTEXT, then NBD_OPT_ABORT. */
  static async probe(
    options: ConnectionOptions,
  ): Promise<{ export: ExportInfo; metaContexts: string[] }> {
    const { transport, negotiation, structured } = await negotiate(options);
    try {
      const info = await negotiation.info(options.exportName);
      const metaContexts = structured
        ? await negotiation.listMetaContexts(options.exportName, [])
        : [];
      await negotiation.abort();
      return { export: info, metaContexts };
    } finally {
      await transport.end().catch(() => undefined);
    }
  }

  /** Requests in flight or waiting for a slot. */
  get load(): number {
    return this.#slotsUsed + this.#waiting.length;
  }

  /** Why the connection cannot be used, or null. */
  get failure(): NbdError | null {
    return this.#failure;
  }

  submit(
    command: number,
    offsetBytes: number,
    lengthBytes: number,
    buffer: Buffer | null,
  ): Promise<InFlightRequest> {
    const submitted = this.#issue(command, offsetBytes, lengthBytes, buffer);
    this.#settling.add(submitted);
    const forget = () => this.#settling.delete(submitted);
    submitted.then(forget, forget);
    return submitted;
  }

  /** Waits for requests in flight, sends NBD_CMD_DISC and closes the connection. */
  async close(): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    if (this.#failure !== null) {
      this.#transport.destroy();
      return;
    }
    await this.#disconnect();
  }

  /** Drops the connection now; requests in flight fail with `reason`. */
  destroy(reason?: NbdError): void {
    if (reason === undefined) this.#closing = true;
    this.#fatal(
      reason ??
        new NbdError('EXTENTLOG_ERR_NBD_CLOSED', `NBD connection to ${this.peer} was closed`),
    );
  }

  async #disconnect(): Promise<void> {
    while (this.#settling.size > 0) await Promise.allSettled([...this.#settling]);
    if (this.#failure === null || this.#failure.details.errno === 'ESHUTDOWN')
      this.#send(requestHeader(NBD_CMD.DISC, 0, 0, 0));
    this.#flush();
    await this.#transport.end().catch(() => this.#transport.destroy());
  }

  async #issue(
    command: number,
    offsetBytes: number,
    lengthBytes: number,
    buffer: Buffer | null,
  ): Promise<InFlightRequest> {
    if (this.#slotsUsed < this.#maxInFlight) this.#slotsUsed += 1;
    else await new Promise<void>((resolve) => this.#waiting.push(resolve)); // a slot handed over
    try {
      if (this.#failure !== null) throw this.#failure;
      const handle = this.#takeHandle();
      const { request, settled } = inFlightRequest({
        handle,
        command,
        offsetBytes,
        lengthBytes,
        buffer,
      });
      this.#inFlight.set(handle, request);
      this.#send(requestHeader(command, handle, offsetBytes, lengthBytes));
      try {
        await settled;
      } catch (error) {
        if (error instanceof NbdError && error.details.errno === 'ESHUTDOWN') this.#shutdown(error);
        throw error;
      }
      return request;
    } finally {
      this.#release();
    }
  }

  /**
   * The server is shutting down (proto.md: a client that receives ESHUTDOWN MUST initiate a
   * soft disconnect): no new requests, NBD_CMD_DISC once those in flight are answered.
   */
  #shutdown(error: NbdError): void {
    if (this.#failure !== null || this.#closing) return;
    this.#failure = error;
    this.#closing = true;
    this.onFailure?.(error);
    void this.#disconnect();
  }

  /**
   * Queues a request header. Headers go out in batches, one write for several: a write to
   * the socket is a system call that also wakes the server, and costs more than the rest
   * of a request. A batch waits (while the server still has at least half the window to
   * work on) until it holds `BATCH_REQUESTS` headers; otherwise it goes out at the end of
   * the current tick.
   */
  #send(header: Buffer): void {
    this.#outgoing.push(header);
    this.#scheduleFlush();
  }

  #scheduleFlush(): void {
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    process.nextTick(() => {
      this.#flushScheduled = false;
      if (this.#outgoing.length >= BATCH_REQUESTS || this.#sentOutstanding * 2 <= this.#maxInFlight)
        this.#flush();
    });
  }

  #flush(): void {
    if (this.#outgoing.length === 0) return;
    const batch = this.#outgoing.length === 1 ? this.#outgoing[0]! : Buffer.concat(this.#outgoing);
    this.#sentOutstanding += this.#outgoing.length;
    this.#outgoing = [];
    if (this.#failure === null || this.#failure.details.errno === 'ESHUTDOWN')
      this.#transport.write(batch);
  }

  #takeHandle(): number {
    while (this.#inFlight.has(this.#nextHandle) || this.#nextHandle === 0)
      this.#nextHandle = (this.#nextHandle + 1) >>> 0;
    const handle = this.#nextHandle;
    this.#nextHandle = (this.#nextHandle + 1) >>> 0;
    return handle;
  }

  #release(): void {
    const next = this.#waiting.shift();
    if (next !== undefined) next();
    else this.#slotsUsed -= 1;
  }

  #fatal(error: NbdError): void {
    if (this.#failure !== null) return;
    // After close() the connection's end is expected: later use is a use after close.
    const closed = this.#closing;
    this.#failure = closed
      ? new NbdError('EXTENTLOG_ERR_NBD_CLOSED', `NBD connection to ${this.peer} was closed`)
      : error;
    const pending = [...this.#inFlight.values()];
    this.#inFlight.clear();
    for (const request of pending) request.reject(this.#failure);
    for (const waiter of this.#waiting.splice(0)) {
      this.#slotsUsed += 1; // handed a slot, to see the failure and release it
      waiter();
    }
    this.#transport.destroy();
    if (!closed) this.onFailure?.(error);
  }
}

function requestHeader(
  command: number,
  handle: number,
  offsetBytes: number,
  lengthBytes: number,
): Buffer {
  const header = Buffer.allocUnsafe(REQUEST_HEADER_BYTES);
  header.writeUInt32BE(NBD_REQUEST_MAGIC, 0);
  header.writeUInt16BE(0, 4);
  header.writeUInt16BE(command, 6);
  header.writeUInt32BE(0, 8);
  header.writeUInt32BE(handle, 12);
  header.writeUInt32BE(Math.floor(offsetBytes / 0x100000000), 16);
  header.writeUInt32BE(offsetBytes >>> 0, 20);
  header.writeUInt32BE(lengthBytes, 24);
  return header;
}
