/**
 * The `iscsi` addon: an iSCSI initiator session (RFC 7143) over Debian's libiscsi, with the SCSI
 * block commands replication needs (SBC-4): READ(16), WRITE(16), SYNCHRONIZE CACHE(16), UNMAP,
 * WRITE SAME(16), GET LBA STATUS(16) and (32), READ CAPACITY(16) and the Block Limits and
 * Logical Block Provisioning VPD pages.
 *
 * libiscsi's asynchronous API runs on Node's event loop (see isc-session.h): no call blocks it,
 * and any number of commands may be in flight. A session is one connection; when it breaks,
 * every command in flight rejects and the session is done — callers reconnect with a new one.
 * This wrapper validates arguments, parses parameter data and translates failures (sense data,
 * login status) into `NativeError`.
 *
 * Addresses are in logical blocks (`lba`, `blocks`) and buffers hold whole blocks.
 */
import { describeError } from '../../errors/extentlog-error.js';
import { NativeError } from '../errors.js';
import { loadAddon } from '../addon-loader.js';
import { ExtendedCdbRelay, type PortalAddress } from './extended-cdb-relay.js';
import { connectFailure, iscsiFailure, senseOf, type IscsiLunAddress } from './iscsi-failure.js';
import {
  getLbaStatus16Cdb,
  getLbaStatus32Cdb,
  parseLbaStatus,
  type GetLbaStatus16Request,
  type GetLbaStatus32Request,
  type LbaStatusReport,
} from './lba-status.js';
import { SENSE_KEY } from './scsi-sense.js';
import {
  parseBlockLimits,
  parseLogicalBlockProvisioning,
  parseReadCapacity16,
  type BlockLimits,
  type LogicalBlockProvisioning,
  type ReadCapacity16,
} from './vpd-pages.js';

export type { IscsiLunAddress } from './iscsi-failure.js';
export { refusesCommand, senseOf } from './iscsi-failure.js';

interface NativeSession {
  connect(): Promise<void>;
  close(): Promise<void>;
  inFlight(): number;
  testUnitReady(): Promise<void>;
  inquiry(evpd: boolean, pageCode: number, allocationBytes: number): Promise<Buffer>;
  readCapacity16(): Promise<Buffer>;
  read16(lba: number, blockSizeBytes: number, into: Buffer): Promise<number>;
  write16(lba: number, blockSizeBytes: number, data: Buffer, fua: boolean): Promise<void>;
  synchronizeCache16(lba: number, blocks: number, immediate: boolean): Promise<void>;
  unmap(pairs: number[]): Promise<void>;
  writeSame16(lba: number, blocks: number, block: Buffer, unmap: boolean): Promise<void>;
  getLbaStatus16(lba: number, allocationBytes: number): Promise<Buffer>;
  commandIn(cdb: Buffer, allocationBytes: number): Promise<Buffer>;
}

interface NativeSessionOptions {
  readonly initiatorName: string;
  readonly targetName: string;
  readonly portal: string;
  readonly lun: number;
  readonly user?: string;
  readonly password?: string;
  readonly targetUser?: string;
  readonly targetPassword?: string;
  readonly timeoutSeconds: number;
}

interface IscsiAddon {
  IscsiSession: new (options: NativeSessionOptions) => NativeSession;
}

export interface ChapCredentials {
  readonly username: string;
  readonly secret: string;
}

export interface IscsiSessionOptions extends IscsiLunAddress {
  readonly initiatorIqn: string;
  /** One-way CHAP: the initiator's credentials, checked by the target. */
  readonly chap?: ChapCredentials;
  /** Mutual CHAP: the target's credentials, checked by the initiator (needs `chap`). */
  readonly targetChap?: ChapCredentials;
  /** A command without an answer for this long drops the session (default 30 s). */
  readonly commandTimeoutMs?: number;
  /** TCP connect and login together (default 10 s). */
  readonly connectTimeoutMs?: number;
  /** Route the session through a relay that carries CDBs longer than 16 bytes (GET LBA STATUS(32)). */
  readonly extendedCdbs?: boolean;
}

export const ADDON_NAME = 'iscsi';
const DEFAULT_COMMAND_TIMEOUT_MS = 30_000;
const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
/** Unit attentions (reset, capacity changed …) a new session may have to clear one by one. */
const MAX_UNIT_ATTENTIONS = 8;
const MAX_TRANSFER_BYTES = 0xffffffff;

const handle = loadAddon<IscsiAddon>(
  ADDON_NAME,
  import.meta.url,
  'install the Debian packages libiscsi-dev and build-essential, then run `npm run build:native`',
);

export function isAvailable(): boolean {
  return handle.isAvailable();
}

function loaded(neededFor: string): IscsiAddon {
  return handle.get(neededFor);
}

/** Throws `NativeError` (EXTENTLOG_ERR_NATIVE_NOT_BUILT) naming `neededFor` unless the addon loads. */
export function assertAvailable(neededFor: string): void {
  loaded(neededFor);
}

function invalid(name: string, expected: string, received: unknown): NativeError {
  return new NativeError(
    'EXTENTLOG_ERR_NATIVE_INVALID_ARGUMENT',
    `iscsi: ${name} must be ${expected}, received ${typeof received === 'number' || typeof received === 'string' ? JSON.stringify(received) : typeof received}`,
    { details: { argument: name } },
  );
}

function checkInteger(name: string, value: number, minimum: number, maximum: number): void {
  if (!Number.isSafeInteger(value) || value < minimum || value > maximum)
    throw invalid(name, `an integer from ${minimum} to ${maximum}`, value);
}

const IQN = /^(iqn\.\d{4}-\d{2}\.[^\s,]+|eui\.[0-9A-Fa-f]{16}|naa\.[0-9A-Fa-f]{16,32})$/;

/** Splits `host[:port]` / `[v6]:port` (RFC 7143 §13.10 TargetAddress syntax, without the group tag). */
export function parsePortal(portal: string): PortalAddress {
  const match = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]\s]+))(?::(\d{1,5}))?$/.exec(portal);
  const port = Number(match?.[3] ?? '3260');
  if (match === null || port < 1 || port > 65535)
    throw invalid('portal', 'host:port (an IPv6 host in brackets), port 1–65535', portal);
  return { host: match[1] ?? match[2] ?? '', port };
}

function validate(options: IscsiSessionOptions): void {
  parsePortal(options.portal);
  if (!IQN.test(options.targetIqn))
    throw invalid(
      'targetIqn',
      'an iSCSI name (iqn.YYYY-MM.domain[:name], eui. or naa.)',
      options.targetIqn,
    );
  if (!IQN.test(options.initiatorIqn))
    throw invalid(
      'initiatorIqn',
      'an iSCSI name (iqn.YYYY-MM.domain[:name])',
      options.initiatorIqn,
    );
  checkInteger('lun', options.lun, 0, 255);
  for (const [name, chap] of [
    ['chap', options.chap],
    ['targetChap', options.targetChap],
  ] as const)
    if (chap !== undefined && (chap.username === '' || chap.secret === ''))
      throw invalid(`${name}`, 'a user name and a secret', '(empty)');
  if (options.targetChap !== undefined && options.chap === undefined)
    throw invalid('targetChap', 'given together with chap (mutual CHAP is both ways)', 'alone');
  checkInteger(
    'commandTimeoutMs',
    options.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS,
    1,
    3_600_000,
  );
  checkInteger(
    'connectTimeoutMs',
    options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
    1,
    3_600_000,
  );
}

export class IscsiSession {
  readonly address: IscsiLunAddress;
  private closed = false;

  private constructor(
    private readonly native: NativeSession,
    options: IscsiSessionOptions,
    private readonly relay: ExtendedCdbRelay | null,
    private readonly commandTimeoutMs: number,
  ) {
    this.address = { portal: options.portal, targetIqn: options.targetIqn, lun: options.lun };
  }

  /** Connects, logs in and clears the unit attentions a new session reports. */
  static async open(options: IscsiSessionOptions): Promise<IscsiSession> {
    const iscsi = loaded('iSCSI sessions');
    validate(options);
    const address = { portal: options.portal, targetIqn: options.targetIqn, lun: options.lun };
    const commandTimeoutMs = options.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS;
    const connectTimeoutMs = options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    let relay: ExtendedCdbRelay | null = null;
    if (options.extendedCdbs === true) {
      try {
        relay = await ExtendedCdbRelay.start(parsePortal(options.portal), connectTimeoutMs);
      } catch (error) {
        throw connectFailure(address, describeError(error), error);
      }
    }
    const native = new iscsi.IscsiSession({
      initiatorName: options.initiatorIqn,
      targetName: options.targetIqn,
      portal: relay?.address ?? options.portal,
      lun: options.lun,
      ...(options.chap === undefined
        ? {}
        : { user: options.chap.username, password: options.chap.secret }),
      ...(options.targetChap === undefined
        ? {}
        : { targetUser: options.targetChap.username, targetPassword: options.targetChap.secret }),
      // libiscsi expires a PDU once time(2) reaches submission + timeout: up to a second
      // early. One more second makes every command wait at least commandTimeoutMs.
      timeoutSeconds: Math.ceil(commandTimeoutMs / 1000) + 1,
    });
    const session = new IscsiSession(native, options, relay, commandTimeoutMs);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      void native.close();
    }, connectTimeoutMs);
    try {
      await native.connect();
    } catch (error) {
      relay?.close();
      if (timedOut) throw connectFailure(address, `no login within ${connectTimeoutMs} ms`, error);
      throw iscsiFailure(error, address, commandTimeoutMs);
    } finally {
      clearTimeout(timer);
    }
    try {
      await session.clearUnitAttentions();
      return session;
    } catch (error) {
      await session.close();
      throw error;
    }
  }

  get description(): string {
    return `${this.address.targetIqn} LUN ${this.address.lun} at ${this.address.portal}`;
  }

  /** Commands submitted and not yet completed. */
  get inFlight(): number {
    return this.native.inFlight();
  }

  get isClosed(): boolean {
    return this.closed;
  }

  private async call<T>(run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      throw iscsiFailure(error, this.address, this.commandTimeoutMs);
    }
  }

  private async clearUnitAttentions(): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.testUnitReady();
      } catch (error) {
        if (senseOf(error)?.senseKey !== SENSE_KEY.UNIT_ATTENTION || attempt >= MAX_UNIT_ATTENTIONS)
          throw error;
      }
    }
  }

  testUnitReady(): Promise<void> {
    return this.call(() => this.native.testUnitReady());
  }

  readCapacity16(): Promise<ReadCapacity16> {
    return this.call(async () => parseReadCapacity16(await this.native.readCapacity16()));
  }

  /** A VPD page's parameter data (INQUIRY with EVPD). */
  inquiryVpd(pageCode: number, allocationBytes = 255): Promise<Buffer> {
    checkInteger('pageCode', pageCode, 0, 0xff);
    checkInteger('allocationBytes', allocationBytes, 4, 0xffff);
    return this.call(() => this.native.inquiry(true, pageCode, allocationBytes));
  }

  /** The Block Limits VPD page, or null when the unit does not have it. */
  async blockLimits(): Promise<BlockLimits | null> {
    const page = await this.optionalVpd(0xb0);
    return page === null ? null : parseBlockLimits(page);
  }

  /** The Logical Block Provisioning VPD page, or null when the unit does not have it. */
  async logicalBlockProvisioning(): Promise<LogicalBlockProvisioning | null> {
    const page = await this.optionalVpd(0xb2);
    return page === null ? null : parseLogicalBlockProvisioning(page);
  }

  private async optionalVpd(pageCode: number): Promise<Buffer | null> {
    try {
      return await this.inquiryVpd(pageCode);
    } catch (error) {
      if (senseOf(error)?.senseKey === SENSE_KEY.ILLEGAL_REQUEST) return null;
      throw error;
    }
  }

  private checkTransfer(lba: number, blockSizeBytes: number, buffer: Buffer): void {
    checkInteger('lba', lba, 0, Number.MAX_SAFE_INTEGER);
    checkInteger('blockSizeBytes', blockSizeBytes, 1, 1 << 20);
    if (!Buffer.isBuffer(buffer)) throw invalid('buffer', 'a Buffer', buffer);
    if (
      buffer.length === 0 ||
      buffer.length % blockSizeBytes !== 0 ||
      buffer.length > MAX_TRANSFER_BYTES
    )
      throw invalid(
        'buffer length',
        `a positive multiple of ${blockSizeBytes} up to 4 GiB`,
        buffer.length,
      );
  }

  /** READ(16) of `into.length` bytes at `lba` into `into`. */
  read16(lba: number, blockSizeBytes: number, into: Buffer): Promise<Buffer> {
    this.checkTransfer(lba, blockSizeBytes, into);
    return this.call(async () => {
      const bytes = await this.native.read16(lba, blockSizeBytes, into);
      if (bytes !== into.length)
        throw new NativeError(
          'EXTENTLOG_ERR_NATIVE_ISCSI_RESPONSE',
          `READ(16) at LBA ${lba} on ${this.description} returned ${bytes} of ${into.length} bytes`,
          { details: { ...this.address, lba, bytes, expected: into.length } },
        );
      return into;
    });
  }

  /** WRITE(16) of `data` at `lba`; `fua` forces it to the medium before completion. */
  write16(
    lba: number,
    blockSizeBytes: number,
    data: Buffer,
    options: { fua?: boolean } = {},
  ): Promise<void> {
    this.checkTransfer(lba, blockSizeBytes, data);
    return this.call(() => this.native.write16(lba, blockSizeBytes, data, options.fua === true));
  }

  /** SYNCHRONIZE CACHE(16) of a range, or of the whole unit when none is given. */
  synchronizeCache16(
    range: { lba: number; blocks: number } = { lba: 0, blocks: 0 },
  ): Promise<void> {
    checkInteger('lba', range.lba, 0, Number.MAX_SAFE_INTEGER);
    checkInteger('blocks', range.blocks, 0, 0xffffffff);
    return this.call(() => this.native.synchronizeCache16(range.lba, range.blocks, false));
  }

  /** UNMAP with one block descriptor per range (the caller keeps within the Block Limits). */
  unmap(ranges: readonly { lba: number; blocks: number }[]): Promise<void> {
    if (ranges.length === 0 || ranges.length > 0xffff)
      throw invalid('ranges', 'from 1 to 65535 ranges', ranges.length);
    const pairs: number[] = [];
    for (const { lba, blocks } of ranges) {
      checkInteger('lba', lba, 0, Number.MAX_SAFE_INTEGER);
      checkInteger('blocks', blocks, 1, 0xffffffff);
      pairs.push(lba, blocks);
    }
    return this.call(() => this.native.unmap(pairs));
  }

  /**
   * WRITE SAME(16) of a zero block over `blocks` blocks at `lba`; with `unmap` the unit may
   * deallocate them instead (and will, when it reads unmapped blocks as zeros).
   */
  writeSame16(
    lba: number,
    blocks: number,
    blockSizeBytes: number,
    options: { unmap: boolean },
  ): Promise<void> {
    checkInteger('lba', lba, 0, Number.MAX_SAFE_INTEGER);
    checkInteger('blocks', blocks, 1, 0xffffffff);
    checkInteger('blockSizeBytes', blockSizeBytes, 1, 1 << 20);
    return this.call(() =>
      this.native.writeSame16(lba, blocks, zeroBlock(blockSizeBytes), options.unmap),
    );
  }

  /** GET LBA STATUS(16): libiscsi's helper, or our own CDB when a report type is asked for. */
  getLbaStatus16(request: GetLbaStatus16Request): Promise<LbaStatusReport> {
    const cdb = getLbaStatus16Cdb(request);
    return this.call(async () =>
      parseLbaStatus(
        (request.reportType ?? 0) === 0
          ? await this.native.getLbaStatus16(request.lba, request.allocationBytes)
          : await this.native.commandIn(cdb, request.allocationBytes),
      ),
    );
  }

  /** GET LBA STATUS(32); needs a session opened with `extendedCdbs`. */
  getLbaStatus32(request: GetLbaStatus32Request): Promise<LbaStatusReport> {
    const cdb = getLbaStatus32Cdb(request);
    const relay = this.relay;
    if (relay === null)
      throw invalid(
        'session',
        'opened with extendedCdbs: true for a 32-byte CDB',
        'a direct session',
      );
    return this.call(async () => {
      const { head, release } = relay.prepare(cdb);
      try {
        return parseLbaStatus(await this.native.commandIn(head, request.allocationBytes));
      } finally {
        release();
      }
    });
  }

  /** Logs out (when idle) and closes; commands in flight reject with EXTENTLOG_ERR_NATIVE_ISCSI_CLOSED. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      await this.native.close();
    } finally {
      this.relay?.close();
    }
  }
}

let zeroBlocks = new Map<number, Buffer>();

/** One zero-filled block per size, shared (WRITE SAME only reads it). */
function zeroBlock(blockSizeBytes: number): Buffer {
  let block = zeroBlocks.get(blockSizeBytes);
  if (block === undefined) {
    if (zeroBlocks.size > 8) zeroBlocks = new Map();
    block = Buffer.alloc(blockSizeBytes);
    zeroBlocks.set(blockSizeBytes, block);
  }
  return block;
}
