/**
 * The NBD handshake phase, client side (proto.md "Fixed newstyle negotiation", "Option
 * types", "Option reply types", and the INFO extension for NBD_OPT_INFO / NBD_OPT_GO):
 *
 *   S: NBDMAGIC · IHAVEOPT · handshake flags (16)     C: client flags (32)
 *   C: IHAVEOPT · option (32) · length (32) · data    S: 0x3e889045565a9 · option · reply type · length · data
 *
 * Options are sent one at a time; each gets one or more replies, the last being NBD_REP_ACK
 * or an error (bit 31 set). Errors are mapped to extentlog errors that say what to change:
 * NBD_REP_ERR_TLS_REQD → configure TLS, NBD_REP_ERR_UNKNOWN → the export name, and so on.
 */
import { NbdError } from './errors.js';
import type { HandshakeInput } from './handshake-input.js';
import {
  NBD_FLAG_C_FIXED_NEWSTYLE,
  NBD_FLAG_C_NO_ZEROES,
  NBD_FLAG_CAN_MULTI_CONN,
  NBD_FLAG_FIXED_NEWSTYLE,
  NBD_FLAG_NO_ZEROES,
  NBD_FLAG_READ_ONLY,
  NBD_INFO_BLOCK_SIZE,
  NBD_INFO_DESCRIPTION,
  NBD_INFO_EXPORT,
  NBD_INIT_MAGIC,
  NBD_OPT,
  NBD_OPT_REPLY_MAGIC,
  NBD_OPTS_MAGIC,
  NBD_REP_ACK,
  NBD_REP_ERR,
  NBD_REP_FLAG_ERROR,
  NBD_REP_INFO,
  NBD_REP_META_CONTEXT,
  optionName,
  optionReplyName,
} from './nbd-constants.js';
import type { NbdTransport } from './nbd-transport.js';

export interface BlockSizeConstraints {
  readonly minimumBytes: number;
  readonly preferredBytes: number;
  readonly maximumBytes: number;
}

export interface ExportInfo {
  readonly name: string;
  readonly sizeBytes: number;
  readonly transmissionFlags: number;
  readonly readOnly: boolean;
  readonly canMultiConn: boolean;
  readonly blockSize: BlockSizeConstraints;
  readonly description: string | null;
}

/** Old-style servers send this after NBDMAGIC instead of IHAVEOPT. */
const OLDSTYLE_MAGIC = 0x00420281861253n;
/** Largest option reply accepted (export lists and descriptions are far smaller). */
const MAX_OPTION_REPLY_BYTES = 1024 * 1024;
/** Used when the server states no maximum (proto.md: 32 MiB is the common limit). */
const DEFAULT_MAXIMUM_BYTES = 32 * 1024 * 1024;

interface OptionReply {
  readonly type: number;
  readonly data: Buffer;
}

export class Negotiation {
  #noZeroes = false;

  constructor(
    private readonly transport: NbdTransport,
    private readonly input: HandshakeInput,
    private readonly peer: string,
  ) {}

  /** Reads the server's greeting and answers it with the client flags. */
  async greet(): Promise<void> {
    const greeting = await this.input.read(18);
    if (greeting.readBigUInt64BE(0) !== NBD_INIT_MAGIC)
      throw this.#handshakeError(
        `expected the NBD greeting 'NBDMAGIC' (0x${NBD_INIT_MAGIC.toString(16)}), received 0x${greeting.readBigUInt64BE(0).toString(16)}: is this an NBD server?`,
      );
    const second = greeting.readBigUInt64BE(8);
    if (second === OLDSTYLE_MAGIC)
      throw this.#handshakeError(
        'the server uses oldstyle negotiation, which has no export names, TLS or structured replies; run it in newstyle mode',
      );
    if (second !== NBD_OPTS_MAGIC)
      throw this.#handshakeError(
        `expected 'IHAVEOPT' (0x${NBD_OPTS_MAGIC.toString(16)}) after NBDMAGIC, received 0x${second.toString(16)}`,
      );
    const flags = greeting.readUInt16BE(16);
    if ((flags & NBD_FLAG_FIXED_NEWSTYLE) === 0)
      throw this.#handshakeError(
        `the server does not offer fixed newstyle negotiation (handshake flags 0x${flags.toString(16)}); it is too old for options`,
      );
    this.#noZeroes = (flags & NBD_FLAG_NO_ZEROES) !== 0;
    const reply = Buffer.alloc(4);
    reply.writeUInt32BE(NBD_FLAG_C_FIXED_NEWSTYLE | (this.#noZeroes ? NBD_FLAG_C_NO_ZEROES : 0));
    this.transport.write(reply);
  }

  /** NBD_OPT_STARTTLS; resolves once the server acknowledged it (the caller upgrades). */
  async startTls(): Promise<void> {
    this.#send(NBD_OPT.STARTTLS, Buffer.alloc(0));
    const reply = await this.#reply(NBD_OPT.STARTTLS);
    if (reply.type === NBD_REP_ACK) return;
    if (reply.type === NBD_REP_ERR.UNSUP || reply.type === NBD_REP_ERR.POLICY)
      throw new NbdError(
        'EXTENTLOG_ERR_NBD_TLS',
        `NBD server ${this.peer} refused STARTTLS (${optionReplyName(reply.type)}${this.#message(reply)}): it does not offer TLS; remove the tls settings or enable TLS on the server`,
        { details: { peer: this.peer } },
      );
    throw this.#optionError(NBD_OPT.STARTTLS, reply);
  }

  /** NBD_OPT_STRUCTURED_REPLY; false when the server does not support it. */
  async structuredReplies(): Promise<boolean> {
    this.#send(NBD_OPT.STRUCTURED_REPLY, Buffer.alloc(0));
    const reply = await this.#reply(NBD_OPT.STRUCTURED_REPLY);
    if (reply.type === NBD_REP_ACK) return true;
    if (reply.type === NBD_REP_ERR.UNSUP) return false;
    throw this.#optionError(NBD_OPT.STRUCTURED_REPLY, reply);
  }

  /** NBD_OPT_SET_META_CONTEXT: the contexts the server selected, by name → id. */
  async setMetaContexts(
    exportName: string,
    queries: readonly string[],
  ): Promise<Map<string, number>> {
    this.#send(NBD_OPT.SET_META_CONTEXT, metaContextRequest(exportName, queries));
    return this.#metaContextReplies(NBD_OPT.SET_META_CONTEXT, exportName);
  }

  /** NBD_OPT_LIST_META_CONTEXT: the contexts matching the queries (all when none). */
  async listMetaContexts(exportName: string, queries: readonly string[]): Promise<string[]> {
    this.#send(NBD_OPT.LIST_META_CONTEXT, metaContextRequest(exportName, queries));
    return [...(await this.#metaContextReplies(NBD_OPT.LIST_META_CONTEXT, exportName)).keys()];
  }

  /** NBD_OPT_INFO: describes the export and stays in negotiation. */
  info(exportName: string): Promise<ExportInfo> {
    return this.#infoOrGo(NBD_OPT.INFO, exportName);
  }

  /**
   * NBD_OPT_GO: selects the export and enters transmission. Servers without the INFO
   * extension get NBD_OPT_EXPORT_NAME instead.
   */
  async go(exportName: string): Promise<ExportInfo> {
    try {
      return await this.#infoOrGo(NBD_OPT.GO, exportName);
    } catch (error) {
      if (!(error instanceof UnsupportedGo)) throw error;
      return this.#exportName(exportName);
    }
  }

  /** NBD_OPT_ABORT: ends negotiation politely (the server may close without answering). */
  async abort(): Promise<void> {
    this.#send(NBD_OPT.ABORT, Buffer.alloc(0));
    await Promise.race([
      this.#reply(NBD_OPT.ABORT).catch(() => undefined),
      new Promise((resolve) => setTimeout(resolve, 1000).unref()),
    ]);
  }

  async #infoOrGo(option: number, exportName: string): Promise<ExportInfo> {
    const name = Buffer.from(exportName, 'utf8');
    const data = Buffer.alloc(4 + name.length + 2 + 2);
    data.writeUInt32BE(name.length, 0);
    name.copy(data, 4);
    data.writeUInt16BE(1, 4 + name.length);
    data.writeUInt16BE(NBD_INFO_BLOCK_SIZE, 6 + name.length);
    this.#send(option, data);
    let sizeBytes: number | null = null;
    let transmissionFlags = 0;
    let blockSize: BlockSizeConstraints | null = null;
    let description: string | null = null;
    for (;;) {
      const reply = await this.#reply(option);
      if (reply.type === NBD_REP_ACK) break;
      if (reply.type === NBD_REP_INFO) {
        if (reply.data.length < 2)
          throw this.#malformed(option, reply, 'an info reply under 2 bytes');
        const infoType = reply.data.readUInt16BE(0);
        if (infoType === NBD_INFO_EXPORT) {
          if (reply.data.length !== 12)
            throw this.#malformed(
              option,
              reply,
              `NBD_INFO_EXPORT of ${reply.data.length} bytes, not 12`,
            );
          sizeBytes = safeSize(reply.data.readBigUInt64BE(2), this.peer);
          transmissionFlags = reply.data.readUInt16BE(10);
        } else if (infoType === NBD_INFO_BLOCK_SIZE) {
          if (reply.data.length !== 14)
            throw this.#malformed(
              option,
              reply,
              `NBD_INFO_BLOCK_SIZE of ${reply.data.length} bytes, not 14`,
            );
          blockSize = {
            minimumBytes: reply.data.readUInt32BE(2),
            preferredBytes: reply.data.readUInt32BE(6),
            maximumBytes: reply.data.readUInt32BE(10),
          };
        } else if (infoType === NBD_INFO_DESCRIPTION) {
          description = reply.data.subarray(2).toString('utf8');
        }
        continue;
      }
      if (reply.type === NBD_REP_ERR.UNSUP && option === NBD_OPT.GO) throw new UnsupportedGo();
      throw this.#optionError(option, reply, exportName);
    }
    if (sizeBytes === null)
      throw this.#handshakeError(
        `${optionName(option)} for export '${exportName}' ended without NBD_INFO_EXPORT (the export's size and flags)`,
      );
    return exportInfo(exportName, sizeBytes, transmissionFlags, blockSize, description);
  }

  async #exportName(exportName: string): Promise<ExportInfo> {
    this.#send(NBD_OPT.EXPORT_NAME, Buffer.from(exportName, 'utf8'));
    let answer: Buffer;
    try {
      answer = await this.input.read(this.#noZeroes ? 10 : 134);
    } catch (error) {
      throw new NbdError(
        'EXTENTLOG_ERR_NBD_EXPORT',
        `NBD server ${this.peer} closed the connection on NBD_OPT_EXPORT_NAME '${exportName}': the export does not exist or needs TLS`,
        { cause: error, details: { peer: this.peer, exportName } },
      );
    }
    const sizeBytes = safeSize(answer.readBigUInt64BE(0), this.peer);
    return exportInfo(exportName, sizeBytes, answer.readUInt16BE(8), null, null);
  }

  async #metaContextReplies(option: number, exportName: string): Promise<Map<string, number>> {
    const contexts = new Map<string, number>();
    for (;;) {
      const reply = await this.#reply(option);
      if (reply.type === NBD_REP_ACK) return contexts;
      if (reply.type === NBD_REP_META_CONTEXT) {
        if (reply.data.length < 5)
          throw this.#malformed(option, reply, `a context reply of ${reply.data.length} bytes`);
        contexts.set(reply.data.subarray(4).toString('utf8'), reply.data.readUInt32BE(0));
        continue;
      }
      throw this.#optionError(option, reply, exportName);
    }
  }

  #send(option: number, data: Buffer): void {
    const header = Buffer.alloc(16);
    header.writeBigUInt64BE(NBD_OPTS_MAGIC, 0);
    header.writeUInt32BE(option, 8);
    header.writeUInt32BE(data.length, 12);
    this.transport.write(data.length === 0 ? header : Buffer.concat([header, data]));
  }

  async #reply(option: number): Promise<OptionReply> {
    const header = await this.input.read(20);
    const magic = header.readBigUInt64BE(0);
    if (magic !== NBD_OPT_REPLY_MAGIC)
      throw this.#handshakeError(
        `expected the option reply magic 0x${NBD_OPT_REPLY_MAGIC.toString(16)} in reply to ${optionName(option)}, received 0x${magic.toString(16)}`,
      );
    const echoed = header.readUInt32BE(8);
    if (echoed !== option)
      throw this.#handshakeError(
        `a reply to ${optionName(option)} names ${optionName(echoed)} instead`,
      );
    const type = header.readUInt32BE(12);
    const lengthBytes = header.readUInt32BE(16);
    if (lengthBytes > MAX_OPTION_REPLY_BYTES)
      throw this.#handshakeError(
        `the reply to ${optionName(option)} announces ${lengthBytes} bytes, more than the ${MAX_OPTION_REPLY_BYTES} this client accepts`,
      );
    const data = lengthBytes === 0 ? Buffer.alloc(0) : await this.input.read(lengthBytes);
    return { type, data };
  }

  #message(reply: OptionReply): string {
    const text = reply.data.toString('utf8').trim();
    return text === '' ? '' : `: ${text}`;
  }

  #optionError(option: number, reply: OptionReply, exportName?: string): NbdError {
    const what = `${optionName(option)}${exportName === undefined ? '' : ` for export '${exportName}'`}`;
    const said = `${optionReplyName(reply.type)}${this.#message(reply)}`;
    const details = {
      peer: this.peer,
      option: optionName(option),
      reply: optionReplyName(reply.type),
    };
    switch (reply.type) {
      case NBD_REP_ERR.TLS_REQD:
        return new NbdError(
          'EXTENTLOG_ERR_NBD_TLS_REQUIRED',
          `NBD server ${this.peer} requires TLS (${said} on ${what}): configure tls (a CA certificate, or a pre-shared key) for this connection`,
          { details },
        );
      case NBD_REP_ERR.UNKNOWN:
        return new NbdError(
          'EXTENTLOG_ERR_NBD_EXPORT',
          `NBD server ${this.peer} has no export '${exportName ?? ''}' (${said}): check the export name`,
          { details },
        );
      case NBD_REP_ERR.POLICY:
      case NBD_REP_ERR.PLATFORM:
        return new NbdError(
          'EXTENTLOG_ERR_NBD_EXPORT',
          `NBD server ${this.peer} refused ${what}: ${said}`,
          {
            details,
          },
        );
      case NBD_REP_ERR.SHUTDOWN:
        return new NbdError(
          'EXTENTLOG_ERR_NBD_EXPORT',
          `NBD server ${this.peer} is shutting down (${said} on ${what}); try again once it is back`,
          { details, retriable: true },
        );
      case NBD_REP_ERR.UNSUP:
        return new NbdError(
          'EXTENTLOG_ERR_NBD_UNSUPPORTED',
          `NBD server ${this.peer} does not support ${what} (${said})`,
          { details },
        );
      default:
        return new NbdError(
          'EXTENTLOG_ERR_NBD_HANDSHAKE',
          `NBD server ${this.peer} answered ${what} with ${said}${
            (reply.type & NBD_REP_FLAG_ERROR) === 0
              ? ', a reply type that option does not have'
              : ''
          }`,
          { details },
        );
    }
  }

  #malformed(option: number, reply: OptionReply, what: string): NbdError {
    return this.#handshakeError(
      `malformed ${optionReplyName(reply.type)} in reply to ${optionName(option)}: ${what}`,
    );
  }

  #handshakeError(message: string): NbdError {
    return new NbdError('EXTENTLOG_ERR_NBD_HANDSHAKE', `NBD server ${this.peer}: ${message}`, {
      details: { peer: this.peer },
    });
  }
}

class UnsupportedGo extends Error {}

function metaContextRequest(exportName: string, queries: readonly string[]): Buffer {
  const parts: Buffer[] = [];
  const name = Buffer.from(exportName, 'utf8');
  const count = Buffer.alloc(4);
  count.writeUInt32BE(queries.length);
  parts.push(u32(name.length), name, count);
  for (const query of queries) {
    const bytes = Buffer.from(query, 'utf8');
    parts.push(u32(bytes.length), bytes);
  }
  return Buffer.concat(parts);
}

function u32(value: number): Buffer {
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32BE(value);
  return bytes;
}

function safeSize(size: bigint, peer: string): number {
  if (size > BigInt(Number.MAX_SAFE_INTEGER))
    throw new NbdError(
      'EXTENTLOG_ERR_NBD_HANDSHAKE',
      `NBD server ${peer} announces an export of ${size} bytes, beyond 2^53`,
      { details: { peer } },
    );
  return Number(size);
}

function exportInfo(
  name: string,
  sizeBytes: number,
  transmissionFlags: number,
  blockSize: BlockSizeConstraints | null,
  description: string | null,
): ExportInfo {
  const minimumBytes = Math.max(1, blockSize?.minimumBytes ?? 1);
  const preferredBytes = Math.max(minimumBytes, blockSize?.preferredBytes ?? 4096);
  const maximumBytes =
    blockSize?.maximumBytes !== undefined && blockSize.maximumBytes > 0
      ? blockSize.maximumBytes
      : DEFAULT_MAXIMUM_BYTES;
  return {
    name,
    sizeBytes,
    transmissionFlags,
    readOnly: (transmissionFlags & NBD_FLAG_READ_ONLY) !== 0,
    canMultiConn: (transmissionFlags & NBD_FLAG_CAN_MULTI_CONN) !== 0,
    blockSize: { minimumBytes, preferredBytes, maximumBytes },
    description,
  };
}
