/**
 * The transmission phase's reader (proto.md "Simple reply message", "Structured reply chunk
 * message", "Structured reply types"): a push parser that matches each reply to its request
 * by handle and checks it against the protocol, chunk by chunk.
 *
 *   simple:     magic 0x67446698 · error (32) · handle (64)                  [· data for READ]
 *   structured: magic 0x668e33ef · flags (16) · type (16) · handle (64) · length (32) · payload
 *
 * NBD_REPLY_TYPE_OFFSET_DATA payloads go straight into the request's buffer (with the
 * transport's zero-copy reads, the kernel writes them there); OFFSET_HOLE zero-fills;
 * BLOCK_STATUS and error chunks are collected whole. Anything the protocol forbids —
 * unknown magic or reply type, a handle with no request in flight, a chunk outside its
 * request or overlapping an earlier one, a READ that ends without covering its range — is
 * fatal for the connection: every request in flight fails and the connection is dropped.
 */
import { NbdError } from './errors.js';
import {
  NBD_CMD,
  NBD_REPLY_FLAG_DONE,
  NBD_REPLY_TYPE,
  NBD_REPLY_TYPE_ERROR_BIT,
  NBD_SIMPLE_REPLY_MAGIC,
  NBD_STRUCTURED_REPLY_MAGIC,
  SIMPLE_REPLY_HEADER_BYTES,
  STRUCTURED_REPLY_HEADER_BYTES,
  commandName,
} from './nbd-constants.js';
import { serverError } from './nbd-server-errors.js';
import type { ByteSink } from './nbd-transport.js';

/** One block status descriptor, at an absolute offset of the export. */
export interface StatusDescriptor {
  readonly offsetBytes: number;
  readonly lengthBytes: number;
  readonly flags: number;
}

export interface InFlightRequest {
  readonly handle: number;
  readonly command: number;
  readonly offsetBytes: number;
  readonly lengthBytes: number;
  /** READ: receives exactly lengthBytes. */
  readonly buffer: Buffer | null;
  /** Bytes of a READ covered by content chunks so far. */
  coveredBytes: number;
  /** Content chunks so far as [start, end) pairs, for the overlap check. */
  readonly chunks: number[];
  /** The first error chunk (or error value) of the reply. */
  error: NbdError | null;
  /** BLOCK_STATUS: descriptors by context id. */
  readonly statuses: Map<number, StatusDescriptor[]>;
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
}

const NO_STATUSES: Map<number, StatusDescriptor[]> = new Map();

/** A request about to be sent, and the promise its reply settles. */
export function inFlightRequest(
  fields: Pick<InFlightRequest, 'handle' | 'command' | 'offsetBytes' | 'lengthBytes' | 'buffer'>,
): { request: InFlightRequest; settled: Promise<void> } {
  let request!: InFlightRequest;
  // One object shape for every request (no spread): this runs for each 256 KiB read.
  const settled = new Promise<void>((resolve, reject) => {
    request = {
      handle: fields.handle,
      command: fields.command,
      offsetBytes: fields.offsetBytes,
      lengthBytes: fields.lengthBytes,
      buffer: fields.buffer,
      coveredBytes: 0,
      chunks: [],
      error: null,
      statuses: fields.command === NBD_CMD.BLOCK_STATUS ? new Map() : NO_STATUSES,
      resolve,
      reject,
    };
  });
  return { request, settled };
}

export interface ReplyParserHooks {
  readonly peer: string;
  readonly structured: boolean;
  /** Context ids selected with NBD_OPT_SET_META_CONTEXT. */
  readonly contextIds: ReadonlySet<number>;
  /** The request in flight with this handle, taken off the in-flight table when `done`. */
  request(handle: number): InFlightRequest | undefined;
  done(request: InFlightRequest): void;
  /** The connection cannot continue: fail everything and drop it. */
  fatal(error: NbdError): void;
}

/** Largest non-data payload accepted (block status of a 4 GiB window at 512-byte grain). */
const MAX_METADATA_PAYLOAD_BYTES = 64 * 1024 * 1024;

type Stage = 'header' | 'data-offset' | 'data' | 'payload' | 'failed';

export class ReplyParser implements ByteSink {
  #stage: Stage = 'header';
  readonly #header = Buffer.alloc(STRUCTURED_REPLY_HEADER_BYTES);
  #headerFill = 0;
  #headerBytes = STRUCTURED_REPLY_HEADER_BYTES;
  #request: InFlightRequest | null = null;
  #flags = 0;
  #type = 0;
  #lengthBytes = 0;
  /** data-offset and payload stages collect into this. */
  #payload: Buffer = Buffer.alloc(0);
  readonly #offsetField = Buffer.alloc(8);
  #payloadFill = 0;
  /** data stage: the slice of the request's buffer still to fill. */
  #target: Buffer | null = null;
  #targetFill = 0;
  /** Whether the data stage is a simple reply's data (which ends the reply). */
  #simpleData = false;

  constructor(private readonly hooks: ReplyParserHooks) {}

  bytes(chunk: Buffer): void {
    let position = 0;
    while (position < chunk.length && this.#stage !== 'failed') {
      switch (this.#stage) {
        case 'header':
          position = this.#takeHeader(chunk, position);
          break;
        case 'data-offset':
        case 'payload': {
          const take = Math.min(this.#payload.length - this.#payloadFill, chunk.length - position);
          chunk.copy(this.#payload, this.#payloadFill, position, position + take);
          this.#payloadFill += take;
          position += take;
          if (this.#payloadFill === this.#payload.length) {
            if (this.#stage === 'data-offset') this.#startData();
            else this.#onPayload();
          }
          break;
        }
        case 'data': {
          const target = this.#target!;
          const take = Math.min(target.length - this.#targetFill, chunk.length - position);
          chunk.copy(target, this.#targetFill, position, position + take);
          position += take;
          this.directBytes(take);
          break;
        }
      }
    }
  }

  /** Up to the end of a structured header and a data chunk's offset; a payload's rest. */
  scratchBytes(): number {
    if (this.#stage === 'header') return STRUCTURED_REPLY_HEADER_BYTES + 8 - this.#headerFill;
    if (this.#stage === 'data-offset' || this.#stage === 'payload')
      return this.#payload.length - this.#payloadFill;
    return 0;
  }

  directTarget(): Buffer | null {
    return this.#stage === 'data' ? this.#target!.subarray(this.#targetFill) : null;
  }

  directBytes(lengthBytes: number): void {
    this.#targetFill += lengthBytes;
    if (this.#targetFill < this.#target!.length) return;
    this.#target = null;
    const request = this.#request!;
    if (this.#simpleData) {
      request.coveredBytes = request.lengthBytes;
      this.#finish(request);
    } else this.#chunkEnd(request);
  }

  ended(error: Error | null): void {
    if (this.#stage === 'failed') return;
    const where =
      this.#stage === 'header' && this.#headerFill === 0
        ? ''
        : ` in the middle of a reply (${this.#describeStage()})`;
    this.#fail(
      new NbdError(
        'EXTENTLOG_ERR_NBD_DISCONNECTED',
        `NBD server ${this.hooks.peer} closed the connection${where}${error ? `: ${error.message}` : ''}`,
        { ...(error ? { cause: error } : {}), details: { peer: this.hooks.peer } },
      ),
    );
  }

  #describeStage(): string {
    if (this.#stage === 'header')
      return `${this.#headerFill} of ${this.#headerBytes} header bytes received`;
    const request = this.#request;
    const of = request
      ? `${commandName(request.command)} of ${request.lengthBytes} bytes at offset ${request.offsetBytes}`
      : 'a reply';
    if (this.#stage === 'data')
      return `${this.#targetFill} of ${this.#target?.length ?? 0} data bytes of ${of} received`;
    return `${this.#payloadFill} of ${this.#payload.length} payload bytes of ${of} received`;
  }

  #takeHeader(chunk: Buffer, position: number): number {
    const take = Math.min(this.#headerBytes - this.#headerFill, chunk.length - position);
    chunk.copy(this.#header, this.#headerFill, position, position + take);
    const before = this.#headerFill;
    this.#headerFill += take;
    if (before < 4 && this.#headerFill >= 4) {
      const magic = this.#header.readUInt32BE(0);
      if (magic === NBD_STRUCTURED_REPLY_MAGIC) this.#headerBytes = STRUCTURED_REPLY_HEADER_BYTES;
      else if (magic === NBD_SIMPLE_REPLY_MAGIC) {
        this.#headerBytes = SIMPLE_REPLY_HEADER_BYTES;
        // Bytes past a 16-byte header belong to what follows it.
        if (this.#headerFill > SIMPLE_REPLY_HEADER_BYTES) {
          const extra = this.#headerFill - SIMPLE_REPLY_HEADER_BYTES;
          this.#headerFill = SIMPLE_REPLY_HEADER_BYTES;
          this.#onHeader();
          return position + take - extra;
        }
      } else {
        this.#violation(
          `expected a reply magic (0x${NBD_SIMPLE_REPLY_MAGIC.toString(16)} simple or 0x${NBD_STRUCTURED_REPLY_MAGIC.toString(16)} structured), received 0x${magic.toString(16).padStart(8, '0')}`,
        );
        return chunk.length;
      }
    }
    if (this.#headerFill === this.#headerBytes) this.#onHeader();
    return position + take;
  }

  #onHeader(): void {
    const header = this.#header;
    this.#headerFill = 0;
    const simple = this.#headerBytes === SIMPLE_REPLY_HEADER_BYTES;
    this.#headerBytes = STRUCTURED_REPLY_HEADER_BYTES;
    // Both headers carry the handle at bytes 8-15.
    const handleHigh = header.readUInt32BE(8);
    const handleLow = header.readUInt32BE(12);
    const request = handleHigh === 0 ? this.hooks.request(handleLow) : undefined;
    if (request === undefined) {
      this.#violation(
        `a reply for handle 0x${handleHigh.toString(16).padStart(8, '0')}${handleLow.toString(16).padStart(8, '0')}, which no request in flight has`,
      );
      return;
    }
    this.#request = request;
    if (simple) this.#onSimpleHeader(request, header.readUInt32BE(4));
    else
      this.#onChunkHeader(
        request,
        header.readUInt16BE(4),
        header.readUInt16BE(6),
        header.readUInt32BE(16),
      );
  }

  #onSimpleHeader(request: InFlightRequest, errno: number): void {
    if (errno !== 0) {
      request.error ??= serverError(errno, this.#what(request), '', this.#details(request));
      this.#finish(request);
      return;
    }
    if (request.command !== NBD_CMD.READ) {
      this.#finish(request);
      return;
    }
    if (this.hooks.structured) {
      this.#violation(
        `a simple reply to ${this.#what(request)}, though structured replies were negotiated (proto.md: the server MUST NOT use a simple reply for NBD_CMD_READ)`,
      );
      return;
    }
    this.#simpleData = true;
    this.#target = request.buffer!;
    this.#targetFill = 0;
    this.#stage = 'data';
  }

  #onChunkHeader(request: InFlightRequest, flags: number, type: number, lengthBytes: number): void {
    if (!this.hooks.structured) {
      this.#violation('a structured reply chunk, though structured replies were not negotiated');
      return;
    }
    this.#flags = flags;
    this.#type = type;
    this.#lengthBytes = lengthBytes;
    const isRead = request.command === NBD_CMD.READ;
    const wrongFor = (name: string) =>
      this.#violation(`a ${name} chunk in the reply to ${this.#what(request)}`);
    switch (type) {
      case NBD_REPLY_TYPE.NONE:
        if (lengthBytes !== 0)
          return this.#violation(`an NBD_REPLY_TYPE_NONE chunk with ${lengthBytes} payload bytes`);
        if ((flags & NBD_REPLY_FLAG_DONE) === 0)
          return this.#violation('an NBD_REPLY_TYPE_NONE chunk without NBD_REPLY_FLAG_DONE');
        return this.#finish(request);
      case NBD_REPLY_TYPE.OFFSET_DATA:
        if (!isRead) return wrongFor('NBD_REPLY_TYPE_OFFSET_DATA');
        if (lengthBytes < 9)
          return this.#violation(
            `an NBD_REPLY_TYPE_OFFSET_DATA chunk of ${lengthBytes} bytes (at least 9)`,
          );
        return this.#collect('data-offset', 8);
      case NBD_REPLY_TYPE.OFFSET_HOLE:
        if (!isRead) return wrongFor('NBD_REPLY_TYPE_OFFSET_HOLE');
        if (lengthBytes !== 12)
          return this.#violation(
            `an NBD_REPLY_TYPE_OFFSET_HOLE chunk of ${lengthBytes} bytes (exactly 12)`,
          );
        return this.#collect('payload', 12);
      case NBD_REPLY_TYPE.BLOCK_STATUS:
        if (request.command !== NBD_CMD.BLOCK_STATUS)
          return wrongFor('NBD_REPLY_TYPE_BLOCK_STATUS');
        if (lengthBytes < 12 || (lengthBytes - 4) % 8 !== 0)
          return this.#violation(
            `an NBD_REPLY_TYPE_BLOCK_STATUS chunk of ${lengthBytes} bytes (4 + a positive multiple of 8)`,
          );
        return this.#collect('payload', lengthBytes);
      default:
        if ((type & NBD_REPLY_TYPE_ERROR_BIT) === 0)
          return this.#violation(
            `an unknown structured reply type ${type} (0x${type.toString(16)})`,
          );
        if (lengthBytes < 6)
          return this.#violation(
            `an error chunk (type 0x${type.toString(16)}) of ${lengthBytes} bytes (at least 6)`,
          );
        return this.#collect('payload', lengthBytes);
    }
  }

  #collect(stage: 'data-offset' | 'payload', lengthBytes: number): void {
    if (lengthBytes > MAX_METADATA_PAYLOAD_BYTES)
      return this.#violation(
        `a chunk of ${lengthBytes} bytes, more than the ${MAX_METADATA_PAYLOAD_BYTES} this client accepts`,
      );
    this.#payload = stage === 'data-offset' ? this.#offsetField : Buffer.allocUnsafe(lengthBytes);
    this.#payloadFill = 0;
    this.#stage = stage;
  }

  /** OFFSET_DATA: the offset is known; the data goes into the request's buffer. */
  #startData(): void {
    const request = this.#request!;
    const offset = this.#payload.readBigUInt64BE(0);
    const dataBytes = this.#lengthBytes - 8;
    const start = this.#claim(request, offset, dataBytes, 'NBD_REPLY_TYPE_OFFSET_DATA');
    if (start === null) return;
    this.#simpleData = false;
    this.#target = request.buffer!.subarray(start, start + dataBytes);
    this.#targetFill = 0;
    this.#stage = 'data';
  }

  #onPayload(): void {
    const request = this.#request!;
    const payload = this.#payload;
    if (this.#type === NBD_REPLY_TYPE.OFFSET_HOLE) {
      const holeBytes = payload.readUInt32BE(8);
      if (holeBytes === 0) return this.#violation('an NBD_REPLY_TYPE_OFFSET_HOLE of 0 bytes');
      const start = this.#claim(
        request,
        payload.readBigUInt64BE(0),
        holeBytes,
        'NBD_REPLY_TYPE_OFFSET_HOLE',
      );
      if (start === null) return;
      request.buffer!.fill(0, start, start + holeBytes);
    } else if (this.#type === NBD_REPLY_TYPE.BLOCK_STATUS) {
      if (!this.#onBlockStatus(request, payload)) return;
    } else if (!this.#onErrorChunk(request, payload)) return;
    this.#chunkEnd(request);
  }

  #onBlockStatus(request: InFlightRequest, payload: Buffer): boolean {
    const contextId = payload.readUInt32BE(0);
    if (!this.hooks.contextIds.has(contextId)) {
      this.#violation(
        `block status for metadata context id ${contextId}, which was not negotiated`,
      );
      return false;
    }
    if (request.statuses.has(contextId)) {
      this.#violation(`two block status chunks for metadata context id ${contextId} in one reply`);
      return false;
    }
    const descriptors: StatusDescriptor[] = [];
    let offsetBytes = request.offsetBytes;
    for (let at = 4; at < payload.length; at += 8) {
      const lengthBytes = payload.readUInt32BE(at);
      if (lengthBytes === 0) {
        this.#violation('a block status descriptor of length 0');
        return false;
      }
      descriptors.push({ offsetBytes, lengthBytes, flags: payload.readUInt32BE(at + 4) });
      offsetBytes += lengthBytes;
    }
    // Servers may describe past the request's end (qemu does at a bitmap's granularity);
    // only the requested range is kept.
    const end = request.offsetBytes + request.lengthBytes;
    const last = descriptors[descriptors.length - 1]!;
    if (last.offsetBytes + last.lengthBytes > end) {
      if (last.offsetBytes >= end && descriptors.length > 1) descriptors.pop();
      const tail = descriptors[descriptors.length - 1]!;
      if (tail.offsetBytes + tail.lengthBytes > end)
        descriptors[descriptors.length - 1] = { ...tail, lengthBytes: end - tail.offsetBytes };
    }
    request.statuses.set(contextId, descriptors);
    return true;
  }

  #onErrorChunk(request: InFlightRequest, payload: Buffer): boolean {
    const errno = payload.readUInt32BE(0);
    const messageBytes = payload.readUInt16BE(4);
    const isOffset = this.#type === NBD_REPLY_TYPE.ERROR_OFFSET;
    if (messageBytes > payload.length - 6 - (isOffset ? 8 : 0)) {
      this.#violation(
        `an error chunk whose message of ${messageBytes} bytes does not fit its ${payload.length}-byte payload`,
      );
      return false;
    }
    if (errno === 0) {
      this.#violation('an error chunk with error value 0');
      return false;
    }
    const message = payload.subarray(6, 6 + messageBytes).toString('utf8');
    const details: Record<string, unknown> = this.#details(request);
    if (isOffset) details.errorOffsetBytes = Number(payload.readBigUInt64BE(6 + messageBytes));
    request.error ??= serverError(errno, this.#what(request), message, details);
    return true;
  }

  /** Checks a content chunk lies inside its request and overlaps no earlier one. */
  #claim(
    request: InFlightRequest,
    offset: bigint,
    lengthBytes: number,
    name: string,
  ): number | null {
    const start = Number(offset) - request.offsetBytes;
    const end = start + lengthBytes;
    if (offset < BigInt(request.offsetBytes) || end > request.lengthBytes) {
      this.#violation(
        `${name} for [${offset}, ${Number(offset) + lengthBytes}) outside ${this.#what(request)}`,
      );
      return null;
    }
    for (let index = 0; index < request.chunks.length; index += 2) {
      if (start < request.chunks[index + 1]! && request.chunks[index]! < end) {
        this.#violation(
          `${name} for [${offset}, ${Number(offset) + lengthBytes}) overlaps an earlier chunk of ${this.#what(request)}`,
        );
        return null;
      }
    }
    request.chunks.push(start, end);
    request.coveredBytes += lengthBytes;
    return start;
  }

  #chunkEnd(request: InFlightRequest): void {
    this.#stage = 'header';
    if ((this.#flags & NBD_REPLY_FLAG_DONE) !== 0) this.#finish(request);
  }

  #finish(request: InFlightRequest): void {
    this.#stage = 'header';
    this.#request = null;
    this.hooks.done(request);
    if (request.error !== null) return request.reject(request.error);
    if (request.command === NBD_CMD.READ && request.coveredBytes !== request.lengthBytes)
      return this.#violation(
        `the reply to ${this.#what(request)} ended after ${request.coveredBytes} bytes (short read)`,
        request,
      );
    if (request.command === NBD_CMD.BLOCK_STATUS) {
      const missing = [...this.hooks.contextIds].filter((id) => !request.statuses.has(id));
      if (missing.length > 0)
        return this.#violation(
          `the reply to ${this.#what(request)} has no block status for context id ${missing.join(', ')}`,
          request,
        );
    }
    request.resolve();
  }

  #violation(message: string, request?: InFlightRequest): void {
    const error = new NbdError(
      'EXTENTLOG_ERR_NBD_PROTOCOL',
      `NBD server ${this.hooks.peer} broke the protocol: ${message}`,
      { details: { peer: this.hooks.peer } },
    );
    request?.reject(error);
    this.#fail(error);
  }

  #fail(error: NbdError): void {
    this.#stage = 'failed';
    this.#target = null;
    this.hooks.fatal(error);
  }

  #what(request: InFlightRequest): string {
    return `${commandName(request.command)} of ${request.lengthBytes} bytes at offset ${request.offsetBytes}`;
  }

  #details(request: InFlightRequest): Record<string, unknown> {
    return {
      peer: this.hooks.peer,
      command: commandName(request.command),
      offsetBytes: request.offsetBytes,
      lengthBytes: request.lengthBytes,
    };
  }
}
