/**
 * A logical unit reached over iSCSI (RFC 7143) that outlives its connections. A session is
 * one TCP connection; when it breaks (target restarted, network down) or a command times
 * out, the commands in flight fail with a connection loss, the session is dropped and the
 * next command — the failed ones first, re-issued as they were — opens a new one, backing
 * off from 100 ms to 5 s between attempts. A command gives up once it has tried for
 * `reconnectTimeoutMs`. Transient SCSI conditions (UNIT ATTENTION after a reset, NOT READY
 * while the unit comes up, BUSY) are retried on the same session within the same time.
 *
 * Geometry comes from READ CAPACITY(16), the Block Limits VPD page (0xB0) and the Logical
 * Block Provisioning VPD page (0xB2), SBC-4 §6.6.4 and §6.6.6.
 */
import type { Logger } from 'pino';
import { describeError } from '../../errors/extentlog-error.js';
import { NativeError } from '../../native/errors.js';
import { IscsiSession, type IscsiSessionOptions } from '../../native/iscsi/index.js';
import type { LbaStatusReport } from '../../native/iscsi/lba-status.js';
import { TargetError } from '../errors.js';
import type { BlockRange, Completion, Lun, LunGeometry } from './lun.js';

export interface LunConnectionOptions {
  readonly session: IscsiSessionOptions;
  /** How long one command keeps reconnecting and retrying before it fails (default 60 s). */
  readonly reconnectTimeoutMs?: number;
  /** Upper bound of one WRITE(16) in bytes (default 8 MiB; the LUN's own limit wins if lower). */
  readonly maxWriteBytes?: number;
  readonly logger: Logger;
}

const MiB = 1024 * 1024;
const DEFAULT_RECONNECT_TIMEOUT_MS = 60_000;
const DEFAULT_MAX_WRITE_BYTES = 8 * MiB;
const FIRST_BACKOFF_MS = 100;
const MAX_BACKOFF_MS = 5_000;
/** A WRITE SAME without UNMAP writes every block on some targets: keep each one short. */
const MAX_WRITE_SAME_BYTES = 64 * MiB;
/** UNMAP's parameter list is at most 65535 bytes: 8 + 16 per descriptor. */
const MAX_UNMAP_DESCRIPTORS = 4095;
const LOST_CONNECTION = new Set([
  'EXTENTLOG_ERR_NATIVE_ISCSI_CONNECTION_LOST',
  'EXTENTLOG_ERR_NATIVE_ISCSI_TIMEOUT',
  'EXTENTLOG_ERR_NATIVE_ISCSI_CLOSED',
]);

export async function readGeometry(
  session: IscsiSession,
  maxWriteBytesOption = DEFAULT_MAX_WRITE_BYTES,
): Promise<LunGeometry> {
  const capacity = await session.readCapacity16();
  const limits = await session.blockLimits();
  const provisioning = await session.logicalBlockProvisioning();
  const blockSizeBytes = capacity.blockSizeBytes;
  const lunMaxWriteBytes =
    limits !== null && limits.maxTransferBlocks > 0
      ? limits.maxTransferBlocks * blockSizeBytes
      : Number.POSITIVE_INFINITY;
  const writeCapBytes = Math.min(maxWriteBytesOption, lunMaxWriteBytes, 0xffffffff);
  const lunMaxWriteSame =
    limits !== null && limits.maxWriteSameBlocks > 0
      ? limits.maxWriteSameBlocks
      : Number.POSITIVE_INFINITY;
  return {
    blockSizeBytes,
    sizeBytes: capacity.sizeBytes,
    maxWriteBytes: Math.max(1, Math.floor(writeCapBytes / blockSizeBytes)) * blockSizeBytes,
    maxWriteSameBlocks: Math.max(
      1,
      Math.min(lunMaxWriteSame, Math.floor(MAX_WRITE_SAME_BYTES / blockSizeBytes)),
    ),
    maxUnmapBlocks: Math.min(limits?.maxUnmapBlocks || 0xffffffff, 0xffffffff),
    maxUnmapDescriptors: Math.max(
      1,
      Math.min(limits?.maxUnmapDescriptors || 1, MAX_UNMAP_DESCRIPTORS),
    ),
    unmapSupported: capacity.lbpme && provisioning?.lbpu === true,
    writeSameUnmapSupported: capacity.lbpme && provisioning?.lbpws === true,
    readsZerosWhenUnmapped: capacity.lbprz || provisioning?.lbprz === true,
  };
}

/** Opens the first session (failures are the caller's to report) and reads the geometry. */
export async function openLunConnection(options: LunConnectionOptions): Promise<Lun> {
  const session = await IscsiSession.open(options.session);
  try {
    const geometry = await readGeometry(session, options.maxWriteBytes);
    return new LunConnection(options, session, geometry);
  } catch (error) {
    await session.close();
    throw error;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

class LunConnection implements Lun {
  readonly description: string;
  geometry: LunGeometry;
  private session: IscsiSession | null;
  private generation = 1;
  private reconnecting: Promise<void> | null = null;
  /** The latest deadline of the commands waiting for the reconnection. */
  private reconnectDeadlineMs = 0;
  private closed = false;
  private readonly reconnectTimeoutMs: number;
  private readonly logger: Logger;

  constructor(
    private readonly options: LunConnectionOptions,
    session: IscsiSession,
    geometry: LunGeometry,
  ) {
    this.session = session;
    this.geometry = geometry;
    this.description = session.description;
    this.reconnectTimeoutMs = options.reconnectTimeoutMs ?? DEFAULT_RECONNECT_TIMEOUT_MS;
    this.logger = options.logger;
  }

  async refreshGeometry(): Promise<LunGeometry> {
    const { value } = await this.run((session) =>
      readGeometry(session, this.options.maxWriteBytes),
    );
    this.geometry = value;
    return value;
  }

  write(lba: number, data: Buffer): Promise<Completion> {
    return this.run((session) => session.write16(lba, this.geometry.blockSizeBytes, data));
  }

  read(lba: number, into: Buffer): Promise<Completion> {
    return this.run((session) => session.read16(lba, this.geometry.blockSizeBytes, into));
  }

  writeSame(lba: number, blocks: number, unmap: boolean): Promise<Completion> {
    return this.run((session) =>
      session.writeSame16(lba, blocks, this.geometry.blockSizeBytes, { unmap }),
    );
  }

  unmap(ranges: readonly BlockRange[]): Promise<Completion> {
    return this.run((session) => session.unmap(ranges));
  }

  async lbaStatus(lba: number, allocationBytes: number): Promise<LbaStatusReport> {
    const { value } = await this.run((session) => session.getLbaStatus16({ lba, allocationBytes }));
    return value;
  }

  synchronizeCache(): Promise<Completion> {
    return this.run((session) => session.synchronizeCache16());
  }

  async close(): Promise<void> {
    this.closed = true;
    const session = this.session;
    this.session = null;
    await session?.close();
  }

  /** Runs `command` on a live session, reconnecting and re-issuing it after a connection loss. */
  private async run<T>(
    command: (session: IscsiSession) => Promise<T>,
  ): Promise<Completion & { value: T }> {
    const deadlineMs = Date.now() + this.reconnectTimeoutMs;
    let backoffMs = FIRST_BACKOFF_MS;
    for (;;) {
      const session = await this.live(deadlineMs);
      const generation = this.generation;
      try {
        return { value: await command(session), generation };
      } catch (error) {
        if (this.closed) throw this.closedError(error);
        if (error instanceof NativeError && LOST_CONNECTION.has(error.code)) {
          this.drop(session, error);
          continue;
        }
        // UNIT ATTENTION, NOT READY, BUSY …: the same command may pass in a moment.
        if (
          error instanceof NativeError &&
          error.retriable &&
          Date.now() + backoffMs < deadlineMs
        ) {
          await sleep(backoffMs);
          backoffMs = Math.min(MAX_BACKOFF_MS, backoffMs * 2);
          continue;
        }
        throw error;
      }
    }
  }

  private drop(session: IscsiSession, error: unknown): void {
    if (this.session !== session) return;
    this.session = null;
    void session.close();
    this.logger.warn(
      { lun: this.description, err: error },
      'iscsi target: lost the connection to the LUN; reconnecting',
    );
  }

  private async live(deadlineMs: number): Promise<IscsiSession> {
    for (;;) {
      if (this.closed) throw this.closedError();
      if (this.session !== null) return this.session;
      this.reconnectDeadlineMs = Math.max(this.reconnectDeadlineMs, deadlineMs);
      this.reconnecting ??= this.reconnect().finally(() => {
        this.reconnecting = null;
      });
      await this.reconnecting;
    }
  }

  /** Opens new sessions with back-off until one logs in or the waiters' deadline passes. */
  private async reconnect(): Promise<void> {
    let backoffMs = FIRST_BACKOFF_MS;
    const startedMs = Date.now();
    for (let attempt = 1; ; attempt++) {
      if (this.closed) throw this.closedError();
      try {
        const session = await IscsiSession.open(this.options.session);
        if (this.closed) {
          await session.close();
          throw this.closedError();
        }
        this.session = session;
        this.generation += 1;
        this.logger.info(
          { lun: this.description, attempt, afterMs: Date.now() - startedMs },
          'iscsi target: reconnected to the LUN',
        );
        return;
      } catch (error) {
        if (error instanceof TargetError) throw error;
        if (Date.now() + backoffMs >= this.reconnectDeadlineMs)
          throw new TargetError(
            'EXTENTLOG_ERR_TARGET_WRITE',
            `lost the connection to ${this.description} and could not reconnect within ${this.reconnectTimeoutMs} ms (${attempt} attempts): ${describeError(error)}`,
            { cause: error, details: { lun: this.description, attempts: attempt } },
          );
        this.logger.debug(
          { lun: this.description, attempt, err: error },
          'iscsi target: reconnect attempt failed',
        );
        await sleep(backoffMs);
        backoffMs = Math.min(MAX_BACKOFF_MS, backoffMs * 2);
      }
    }
  }

  private closedError(cause?: unknown): TargetError {
    return new TargetError(
      'EXTENTLOG_ERR_TARGET_CLOSED',
      `${this.description} was used after the target disk was closed`,
      { cause },
    );
  }
}
