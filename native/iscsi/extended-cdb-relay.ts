/**
 * A one-connection TCP relay in this process between libiscsi and the target portal, for
 * sessions that send CDBs longer than 16 bytes (see extended-cdb-rewriter.ts for why and
 * how). libiscsi connects to the relay's 127.0.0.1 port; target → initiator bytes are piped
 * through as they are, initiator → target bytes through the rewriter.
 *
 * The relay connects to the portal before the session does, so an unreachable portal fails
 * here with the socket's own error, not later as a broken login.
 */
import net from 'node:net';
import { Transform } from 'node:stream';
import { ExtendedCdbRewriter, taggedHead } from './extended-cdb-rewriter.js';

export interface PortalAddress {
  readonly host: string;
  readonly port: number;
}

export class ExtendedCdbRelay {
  private readonly cdbs = new Map<number, Buffer>();
  private nextTag = 1;
  private downstream: net.Socket | null = null;

  private constructor(
    private readonly server: net.Server,
    private readonly upstream: net.Socket,
    /** host:port for libiscsi. */
    readonly address: string,
  ) {}

  /** Connects to `portal` and listens on 127.0.0.1 for the session's one connection. */
  static async start(portal: PortalAddress, connectTimeoutMs: number): Promise<ExtendedCdbRelay> {
    const upstream = await connect(portal, connectTimeoutMs);
    upstream.setNoDelay(true);
    upstream.on('error', () => upstream.destroy());
    const server = net.createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const { port } = server.address() as net.AddressInfo;
    const relay = new ExtendedCdbRelay(server, upstream, `127.0.0.1:${port}`);
    server.on('connection', (socket) => relay.accept(socket));
    upstream.on('close', () => relay.close());
    return relay;
  }

  /**
   * Registers a CDB longer than 16 bytes; returns the 16 bytes to submit through libiscsi and
   * a `release` to call once the command settled.
   */
  prepare(cdb: Buffer): { head: Buffer; release: () => void } {
    const tag = this.nextTag;
    this.nextTag = this.nextTag >= 0xffffffff ? 1 : this.nextTag + 1;
    this.cdbs.set(tag, Buffer.from(cdb));
    return { head: taggedHead(cdb, tag), release: () => this.cdbs.delete(tag) };
  }

  close(): void {
    this.server.close();
    this.downstream?.destroy();
    this.upstream.destroy();
  }

  private accept(socket: net.Socket): void {
    // One session, one connection: a second one is not ours.
    if (this.downstream !== null) {
      socket.destroy();
      return;
    }
    this.downstream = socket;
    this.server.close();
    socket.setNoDelay(true);
    const rewriter = new ExtendedCdbRewriter((tag) => this.cdbs.get(tag));
    const rewrite = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        for (const piece of rewriter.push(chunk)) this.push(piece);
        done();
      },
    });
    socket.pipe(rewrite).pipe(this.upstream);
    this.upstream.pipe(socket);
    socket.on('error', () => this.close());
    socket.on('close', () => this.close());
  }
}

function connect(portal: PortalAddress, timeoutMs: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: portal.host, port: portal.port });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`connect to ${portal.host}:${portal.port} timed out after ${timeoutMs} ms`));
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.removeAllListeners('error');
      resolve(socket);
    });
    socket.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}
