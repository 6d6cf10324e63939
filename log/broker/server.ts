/**
 * The broker's network layer: a TCP (or TLS) listener speaking Kafka's framing — every
 * request and response is an INT32 size followed by that many bytes (Kafka protocol guide,
 * "Network"). Requests on one connection are handled concurrently but answered strictly in
 * request order, since clients pipeline and match responses by order.
 *
 *   socket ─▶ frame splitter ─▶ handleFrame() ─┐   (concurrent)
 *                                              ▼
 *   socket ◀─ writev(head responses) ◀─ [slot][slot][slot]…  (in request order)
 *
 * Back-pressure: reading pauses while too many responses are pending or the socket's
 * write buffer is above its high-water mark, so a slow reader cannot make us buffer
 * unbounded responses. A frame that cannot be handled closes only its own connection.
 */
import net from 'node:net';
import tls from 'node:tls';
import type { BrokerLogger } from './broker-logger.js';
import { LogError } from '../errors.js';

export interface ClientEndpoint {
  readonly id: number;
  /** `address:port` of the client, for logs. */
  readonly clientAddress: string;
  readonly remoteAddress: string;
}

export interface FrameHandler<C> {
  /** Per-connection state the handler keeps (authentication, client id). */
  openConnection(endpoint: ClientEndpoint): C;
  /**
   * Handles one request frame (without its size prefix). Resolves to the response buffers,
   * including their size prefix, or null when no response is due (acks=0). Throwing closes
   * the connection; an `ExtentlogError`'s details are logged.
   */
  handleFrame(frame: Buffer, connection: C): Promise<Buffer[] | null> | Buffer[] | null;
}

export interface ServerLimits {
  /** Largest request frame accepted; a larger one closes the connection. */
  readonly maxRequestBytes: number;
  /** Reading pauses while this many responses are pending on a connection. */
  readonly maxPendingResponses: number;
  /** Reading pauses while the socket buffers more than this many response bytes. */
  readonly writeHighWaterBytes: number;
}

export interface TlsFiles {
  readonly cert: Buffer;
  readonly key: Buffer;
}

export interface ServerMetrics {
  connectionsOpen: number;
  /** Connections whose reading is paused because their responses are not being read. */
  connectionsPaused: number;
  bytesIn: number;
  bytesOut: number;
  requests: number;
}

export interface BrokerServer {
  readonly host: string;
  readonly port: number;
  readonly metrics: Readonly<ServerMetrics>;
  close(): Promise<void>;
}

export interface ServerOptions<C> {
  readonly host: string;
  readonly port: number;
  readonly tls?: TlsFiles;
  readonly limits: ServerLimits;
  readonly logger: BrokerLogger;
  readonly handler: FrameHandler<C>;
}

interface Slot {
  done: boolean;
  response: Buffer[] | null;
}

export async function startServer<C>(options: ServerOptions<C>): Promise<BrokerServer> {
  const metrics: ServerMetrics = {
    connectionsOpen: 0,
    connectionsPaused: 0,
    bytesIn: 0,
    bytesOut: 0,
    requests: 0,
  };
  const sockets = new Set<net.Socket>();
  let nextId = 1;
  const onSocket = (socket: net.Socket) => {
    sockets.add(socket);
    metrics.connectionsOpen += 1;
    socket.once('close', () => {
      sockets.delete(socket);
      metrics.connectionsOpen -= 1;
    });
    serveConnection(socket, nextId++, options, metrics);
  };
  const server = options.tls
    ? tls.createServer({ cert: options.tls.cert, key: options.tls.key }, onSocket)
    : net.createServer(onSocket);
  server.on('tlsClientError', (error: Error, socket: net.Socket) => {
    options.logger.warn(
      { client: `${socket.remoteAddress}:${socket.remotePort}`, error: error.message },
      'TLS handshake failed',
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error) =>
      reject(
        new LogError(
          'EXTENTLOG_ERR_LOG_BROKER_LISTEN',
          `broker cannot listen on ${options.host}:${options.port}: ${error.message}`,
          { cause: error, details: { host: options.host, port: options.port } },
        ),
      ),
    );
    server.listen({ host: options.host, port: options.port }, resolve);
  });
  const address = server.address() as net.AddressInfo;
  return {
    host: address.address,
    port: address.port,
    metrics,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      }),
  };
}

function serveConnection<C>(
  socket: net.Socket,
  id: number,
  options: ServerOptions<C>,
  metrics: ServerMetrics,
): void {
  const { limits, logger, handler } = options;
  const clientAddress = `${socket.remoteAddress}:${socket.remotePort}`;
  socket.setNoDelay(true);
  const connection = handler.openConnection({
    id,
    clientAddress,
    remoteAddress: socket.remoteAddress ?? '',
  });
  const slots: Slot[] = [];
  const chunks: Buffer[] = [];
  let bufferedBytes = 0;
  /** Size of the frame being assembled, or -1 while its size prefix is incomplete. */
  let frameBytes = -1;
  let closing = false;

  const fail = (error: unknown, message: string) => {
    if (closing) return;
    closing = true;
    const details = (error as { details?: unknown }).details;
    logger.warn(
      {
        client: clientAddress,
        code: (error as { code?: unknown }).code,
        error: error instanceof Error ? error.message : String(error),
        ...(typeof details === 'object' ? details : {}),
      },
      message,
    );
    socket.destroy();
  };

  let paused = false;
  const busy = () =>
    slots.length >= limits.maxPendingResponses ||
    socket.writableLength > limits.writeHighWaterBytes;
  const setPaused = (pause: boolean) => {
    if (pause === paused) return;
    paused = pause;
    metrics.connectionsPaused += pause ? 1 : -1;
    if (pause) socket.pause();
    else socket.resume();
  };
  const flush = () => {
    let head = slots[0];
    if (head === undefined || !head.done) return;
    socket.cork();
    while (head !== undefined && head.done) {
      slots.shift();
      for (const buffer of head.response ?? []) {
        metrics.bytesOut += buffer.length;
        socket.write(buffer);
      }
      head = slots[0];
    }
    socket.uncork();
    pump();
  };

  const dispatch = (frame: Buffer) => {
    metrics.requests += 1;
    const slot: Slot = { done: false, response: null };
    slots.push(slot);
    const settle = (response: Buffer[] | null) => {
      slot.done = true;
      slot.response = response;
      flush();
    };
    try {
      const result = handler.handleFrame(frame, connection);
      if (result instanceof Promise) {
        result.then(settle, (error: unknown) => fail(error, 'request failed; connection closed'));
      } else {
        settle(result);
      }
    } catch (error) {
      fail(error, 'request failed; connection closed');
    }
  };

  /** Removes `lengthBytes` from the front of the buffered chunks; a view when possible. */
  const take = (lengthBytes: number): Buffer => {
    const first = chunks[0] as Buffer;
    let taken: Buffer;
    if (first.length >= lengthBytes) {
      taken = first.subarray(0, lengthBytes);
      if (first.length === lengthBytes) chunks.shift();
      else chunks[0] = first.subarray(lengthBytes);
    } else {
      taken = Buffer.allocUnsafe(lengthBytes);
      let filled = 0;
      while (filled < lengthBytes) {
        const chunk = chunks[0] as Buffer;
        const part = Math.min(chunk.length, lengthBytes - filled);
        chunk.copy(taken, filled, 0, part);
        filled += part;
        if (part === chunk.length) chunks.shift();
        else chunks[0] = chunk.subarray(part);
      }
    }
    bufferedBytes -= lengthBytes;
    return taken;
  };

  /**
   * Dispatches buffered frames while the connection is not busy; stops (and pauses the
   * socket) as soon as it is, so pipelined requests already received wait here instead of
   * producing responses nobody reads.
   */
  let pumping = false;
  const pump = () => {
    if (pumping || closing) return;
    pumping = true;
    try {
      while (!closing && !busy()) {
        if (frameBytes < 0) {
          if (bufferedBytes < 4) break;
          frameBytes = take(4).readInt32BE(0);
          if (frameBytes < 0 || frameBytes > limits.maxRequestBytes) {
            fail(
              new LogError(
                'EXTENTLOG_ERR_LOG_BROKER_REQUEST_TOO_LARGE',
                `request frame of ${frameBytes} bytes from ${clientAddress}: expected 0..${limits.maxRequestBytes} bytes`,
                { details: { frameBytes, maxRequestBytes: limits.maxRequestBytes } },
              ),
              'request frame size out of range; connection closed',
            );
            return;
          }
        }
        if (bufferedBytes < frameBytes) break;
        const frame = take(frameBytes);
        frameBytes = -1;
        dispatch(frame);
      }
    } finally {
      pumping = false;
    }
    if (!closing) setPaused(busy());
  };

  socket.on('data', (chunk: Buffer) => {
    if (closing) return;
    metrics.bytesIn += chunk.length;
    chunks.push(chunk);
    bufferedBytes += chunk.length;
    pump();
  });
  socket.on('drain', pump);
  socket.on('error', (error) => {
    logger.debug({ client: clientAddress, error: error.message }, 'connection error');
  });
  socket.on('close', () => {
    closing = true;
    setPaused(false);
  });
}
