/**
 * The handshake's view of a connection: "read exactly n bytes", in order. The handshake is
 * a strict request/answer exchange of small messages, so it buffers whole chunks; the
 * transmission phase replaces it with the reply parser.
 */
import { NbdError } from './errors.js';
import type { ByteSink } from './nbd-transport.js';

interface Waiter {
  readonly lengthBytes: number;
  readonly resolve: (bytes: Buffer) => void;
  readonly reject: (error: Error) => void;
}

export class HandshakeInput implements ByteSink {
  #chunks: Buffer[] = [];
  #bufferedBytes = 0;
  #waiter: Waiter | null = null;
  #end: Error | null = null;

  constructor(private readonly peer: string) {}

  bytes(chunk: Buffer): void {
    // The chunk may be a reused scratch buffer: keep a copy.
    this.#chunks.push(Buffer.from(chunk));
    this.#bufferedBytes += chunk.length;
    this.#serve();
  }

  directTarget(): Buffer | null {
    return null;
  }

  directBytes(): void {
    // Never called: directTarget() hands out nothing.
  }

  ended(error: Error | null): void {
    this.#end ??= new NbdError(
      'EXTENTLOG_ERR_NBD_DISCONNECTED',
      `NBD server ${this.peer} closed the connection during the handshake${error ? `: ${error.message}` : ''}`,
      { ...(error ? { cause: error } : {}), details: { peer: this.peer } },
    );
    this.#serve();
  }

  read(lengthBytes: number): Promise<Buffer> {
    if (this.#waiter !== null) throw new Error('HandshakeInput.read: a read is already pending');
    return new Promise((resolve, reject) => {
      this.#waiter = { lengthBytes, resolve, reject };
      this.#serve();
    });
  }

  /** Bytes received beyond the handshake (handed to the next reader). */
  takeRemaining(): Buffer {
    const rest = Buffer.concat(this.#chunks);
    this.#chunks = [];
    this.#bufferedBytes = 0;
    return rest;
  }

  #serve(): void {
    const waiter = this.#waiter;
    if (waiter === null) return;
    if (this.#bufferedBytes >= waiter.lengthBytes) {
      this.#waiter = null;
      const all = this.#chunks.length === 1 ? this.#chunks[0]! : Buffer.concat(this.#chunks);
      const bytes = all.subarray(0, waiter.lengthBytes);
      const rest = all.subarray(waiter.lengthBytes);
      this.#chunks = rest.length > 0 ? [rest] : [];
      this.#bufferedBytes = rest.length;
      waiter.resolve(bytes);
    } else if (this.#end !== null) {
      this.#waiter = null;
      waiter.reject(this.#end);
    }
  }
}
