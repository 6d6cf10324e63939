/**
 * Replays one disk's records into its target disk, in log order, and checks them on the
 * way: every record's seq follows the previous one by exactly 1, every Extent's CRC-32C
 * matches its position and data, and at SyncCommit the epoch digest and extent count match
 * what the producer published. Any mismatch stops this disk (never a silent skip) while
 * other disks go on. A SyncCommit is honoured only after `flush()` made the epoch durable;
 * only then is the restore point published.
 *
 * A disk is in one of these states:
 *
 *   waiting ──SyncBegin FULL──▶ in epoch ──SyncCommit──▶ between epochs ──SyncBegin──▶ in epoch
 *      ▲                           │  SyncBegin (the open epoch aborted: superseded)
 *      └── no base for an incremental (also one the target lost), or history expired
 *          (asks the feed to re-baseline)
 */
import type { Logger } from 'pino';
import { createEpochDigest, type EpochDigest } from '../schemas/epoch-digest.js';
import { extentCrc32c } from '../schemas/extent-crc.js';
import type {
  ExtentlogRecord,
  ExtentRecord,
  SyncBeginRecord,
  SyncCommitRecord,
} from '../schemas/extentlog-record.js';
import type { RestorePoint } from '../schemas/restore-point.js';
import { TargetError } from './errors.js';
import type { Target, TargetDisk } from './target.js';

export interface DiskReplayOptions {
  readonly targetName: string;
  readonly target: Target;
  readonly feed: string;
  readonly diskId: string;
  /** The target's last restore point of this disk, from the restore-points topic. */
  readonly lastRestorePoint: RestorePoint | null;
  readonly publishRestorePoint: (point: RestorePoint) => Promise<void>;
  readonly requestRebaseline: (reason: string) => void;
  readonly logger: Logger;
  readonly now: () => number;
}

interface OpenEpoch {
  readonly begin: SyncBeginRecord;
  readonly beginOffset: number;
  readonly digest: EpochDigest;
  dataBytes: number;
  /** Whether the target disk saw this epoch's beginEpoch (not when it began below the committed offset). */
  startedOnTarget: boolean;
}

export interface DiskReplayStatus {
  readonly feed: string;
  readonly diskId: string;
  readonly state: 'waiting' | 'in-epoch' | 'between-epochs' | 'stopped';
  readonly currentEpoch: number | null;
  readonly lastRestorePoint: RestorePoint | null;
  readonly appliedRecords: number;
  readonly appliedBytes: number;
  /** Source-side time of the newest record applied (heartbeats included): for lag in seconds. */
  readonly newestAppliedSourceTimeMs: number | null;
  readonly lastError: { code: string; message: string; atMs: number } | null;
}

export class DiskReplay {
  readonly #options: DiskReplayOptions;
  #disk: TargetDisk | null = null;
  #expectedSeq: number | null = null;
  #epoch: OpenEpoch | null = null;
  #waiting: string | null = null;
  #stopped: TargetError | null = null;
  #lastRestorePoint: RestorePoint | null;
  /** Offset of the first record applied since the last flush; null when all are durable. */
  #firstUndurableOffset: number | null = null;
  #appliedRecords = 0;
  #appliedBytes = 0;
  #newestSourceTimeMs: number | null = null;

  constructor(options: DiskReplayOptions) {
    this.#options = options;
    this.#lastRestorePoint = options.lastRestorePoint;
  }

  get stopped(): TargetError | null {
    return this.#stopped;
  }

  /** The offset of the open epoch's SyncBegin: where a restart must re-read from. */
  get openEpochOffset(): number | null {
    return this.#epoch?.beginOffset ?? null;
  }

  get firstUndurableOffset(): number | null {
    return this.#firstUndurableOffset;
  }

  status(): DiskReplayStatus {
    const error = this.#stopped;
    return {
      feed: this.#options.feed,
      diskId: this.#options.diskId,
      state:
        error !== null
          ? 'stopped'
          : this.#epoch !== null
            ? 'in-epoch'
            : this.#waiting !== null
              ? 'waiting'
              : 'between-epochs',
      currentEpoch: this.#epoch?.begin.epoch ?? null,
      lastRestorePoint: this.#lastRestorePoint,
      appliedRecords: this.#appliedRecords,
      appliedBytes: this.#appliedBytes,
      newestAppliedSourceTimeMs: this.#newestSourceTimeMs,
      lastError:
        error === null
          ? null
          : { code: error.code, message: error.message, atMs: (error.details.atMs as number) ?? 0 },
    };
  }

  /**
   * Records between `expectedOffset` and `receivedOffset` left the log (retention) before this
   * target read them: whatever epoch was open cannot be completed, and an incremental epoch
   * needs a base the target may not hold. The disk waits for a FULL epoch, like a target that
   * starts on expired history.
   */
  historyLost(expectedOffset: number, receivedOffset: number): void {
    if (this.#stopped !== null) return;
    const open = this.#epoch;
    this.#expectedSeq = null;
    if (open === null && this.#waiting !== null) return;
    this.#wait(
      `the log lost offsets ${expectedOffset}..${receivedOffset - 1} of disk ${this.#options.diskId} to retention before target ${this.#options.targetName} read them` +
        (open === null ? '' : `, in the middle of epoch ${open.begin.epoch}`),
    );
  }

  /** Forgets the position (after a rewind): the next record is taken as the first. */
  rewound(): void {
    this.#expectedSeq = null;
    this.#epoch = null;
  }

  /**
   * Processes one record at `offset`. `alreadyDurable`: the record lies below the committed
   * offset, so its effects are on the target already — check it, but do not apply it again.
   */
  async process(record: ExtentlogRecord, offset: number, alreadyDurable: boolean): Promise<void> {
    if (this.#stopped !== null) return;
    try {
      this.#checkSeq(record, offset, alreadyDurable);
      switch (record.type) {
        case 'sync-begin':
          await this.#begin(record, offset, alreadyDurable);
          break;
        case 'extent':
          await this.#extent(record, offset, alreadyDurable);
          break;
        case 'sync-commit':
          await this.#commit(record, offset, alreadyDurable);
          break;
        case 'heartbeat':
          this.#newestSourceTimeMs = record.sentAtMs;
          break;
      }
    } catch (error) {
      // A target that lost the base of an incremental epoch (an EBS snapshot deleted behind
      // its back) cannot apply it anywhere without a gap: the disk waits for a FULL epoch.
      if (error instanceof TargetError && error.code === 'EXTENTLOG_ERR_TARGET_BASE_MISSING')
        this.#wait(error.message);
      else this.#stop(error, record, offset);
    }
  }

  /** Makes everything applied so far durable; afterwards nothing below `nextOffset` is pending. */
  async flush(): Promise<void> {
    if (this.#firstUndurableOffset === null || this.#disk === null || this.#stopped !== null)
      return;
    await this.#disk.flush();
    this.#firstUndurableOffset = null;
  }

  async close(): Promise<void> {
    const disk = this.#disk;
    this.#disk = null;
    await disk?.close();
  }

  /** Stops the disk at a record that cannot be decoded (corrupt frame, unknown schema id). */
  undecodable(error: unknown, offset: number): void {
    if (this.#stopped !== null) return;
    const after = this.#expectedSeq === null ? '' : ` (expected seq ${this.#expectedSeq})`;
    this.#stop(
      new TargetError(
        'EXTENTLOG_ERR_REPLAY_DECODE',
        `disk ${this.#options.diskId} of feed ${this.#options.feed}: the record at log offset ${offset}${after} cannot be decoded: ${(error as Error).message}`,
        { cause: error },
      ),
      { feed: this.#options.feed, disk: this.#options.diskId, seq: this.#expectedSeq ?? -1 },
      offset,
    );
  }

  #stop(
    error: unknown,
    record: Pick<ExtentlogRecord, 'feed' | 'disk' | 'seq'>,
    offset: number,
  ): void {
    const stopped =
      error instanceof TargetError
        ? error
        : new TargetError(
            'EXTENTLOG_ERR_TARGET_WRITE',
            `disk ${record.disk}: ${(error as Error).message}`,
            { cause: error },
          );
    // Every stop names the log offset, so an operator can find the record with Kafka tools.
    const where = `log offset ${offset}`;
    this.#stopped = new TargetError(
      stopped.code as keyof typeof TargetError.codes,
      stopped.message.includes(where) ? stopped.message : `${stopped.message} (${where})`,
      {
        cause: stopped.cause,
        details: {
          ...stopped.details,
          feed: record.feed,
          disk: record.disk,
          seq: record.seq,
          offset,
          atMs: this.#options.now(),
        },
      },
    );
    this.#options.logger.error(
      {
        target: this.#options.targetName,
        feed: record.feed,
        disk: record.disk,
        seq: record.seq,
        offset,
        err: stopped,
      },
      'replay of disk stopped',
    );
  }

  #checkSeq(record: ExtentlogRecord, offset: number, alreadyDurable: boolean): void {
    const expected = this.#expectedSeq;
    this.#expectedSeq = record.seq + 1;
    if (expected === null || record.seq === expected) return;
    if (alreadyDurable && record.seq < expected) return;
    throw new TargetError(
      'EXTENTLOG_ERR_REPLAY_SEQUENCE_GAP',
      `sequence gap on disk ${record.disk} of feed ${record.feed}: expected seq ${expected}, received ${record.seq} (log offset ${offset})`,
      { details: { expectedSeq: expected, receivedSeq: record.seq } },
    );
  }

  async #begin(record: SyncBeginRecord, offset: number, alreadyDurable: boolean): Promise<void> {
    if (this.#epoch !== null) {
      this.#options.logger.warn(
        {
          target: this.#options.targetName,
          disk: record.disk,
          aborted: this.#epoch.begin.epoch,
          next: record.epoch,
        },
        'epoch did not commit; the next epoch supersedes it',
      );
      this.#epoch = null;
    }
    const base = this.#lastRestorePoint?.epoch ?? null;
    if (record.mode === 'INCREMENTAL' && record.baseEpoch !== base && !alreadyDurable) {
      const reason =
        base === null
          ? `target ${this.#options.targetName} holds no restore point of disk ${record.disk} to apply incremental epoch ${record.epoch} (base ${record.baseEpoch}) onto`
          : `target ${this.#options.targetName} is at epoch ${base} but incremental epoch ${record.epoch} is based on epoch ${record.baseEpoch}`;
      this.#wait(reason);
      return;
    }
    if (record.mode !== 'FULL' && this.#waiting !== null && !alreadyDurable) return;
    this.#waiting = null;
    this.#epoch = {
      begin: record,
      beginOffset: offset,
      digest: createEpochDigest(record.epoch),
      dataBytes: 0,
      startedOnTarget: false,
    };
    if (!alreadyDurable) await this.#started(this.#epoch);
  }

  /** The target disk, opened, with the epoch begun on it. */
  async #started(epoch: OpenEpoch): Promise<TargetDisk> {
    const begin = epoch.begin;
    this.#disk ??= await this.#options.target.openDisk({
      feed: begin.feed,
      diskId: begin.disk,
      sizeBytes: begin.diskSizeBytes,
      blockSizeBytes: begin.blockSizeBytes,
    });
    if (!epoch.startedOnTarget) {
      await this.#disk.beginEpoch({
        epoch: begin.epoch,
        mode: begin.mode,
        diskSizeBytes: begin.diskSizeBytes,
        baseEpoch: begin.baseEpoch,
        sourceReference: begin.sourceReference,
      });
      epoch.startedOnTarget = true;
    }
    return this.#disk;
  }

  #wait(reason: string): void {
    if (this.#waiting === null) {
      this.#options.logger.warn(
        { target: this.#options.targetName, disk: this.#options.diskId, reason },
        'waiting for a FULL epoch',
      );
      this.#options.requestRebaseline(reason);
    }
    this.#waiting = reason;
    this.#epoch = null;
  }

  async #extent(record: ExtentRecord, offset: number, alreadyDurable: boolean): Promise<void> {
    const epoch = this.#epoch;
    if (epoch === null) {
      // Mid-epoch without its SyncBegin: below the committed offset it was applied before;
      // otherwise history before it is gone and the disk waits for a FULL epoch.
      if (!alreadyDurable && this.#waiting === null)
        this.#wait(
          `the log holds epoch ${record.epoch} of disk ${record.disk} only from seq ${record.seq} on`,
        );
      return;
    }
    if (record.epoch !== epoch.begin.epoch) {
      throw new TargetError(
        'EXTENTLOG_ERR_REPLAY_RECORD',
        `disk ${record.disk}: extent seq ${record.seq} belongs to epoch ${record.epoch} but epoch ${epoch.begin.epoch} is open`,
      );
    }
    const crc = extentCrc32c(record);
    if (crc !== record.crc32c) {
      throw new TargetError(
        'EXTENTLOG_ERR_REPLAY_CRC',
        `CRC mismatch on disk ${record.disk} seq ${record.seq} at offsetBytes ${record.offsetBytes}: the record says 0x${record.crc32c.toString(16).padStart(8, '0')}, its contents give 0x${crc.toString(16).padStart(8, '0')}`,
        { details: { offsetBytes: record.offsetBytes, lengthBytes: record.lengthBytes } },
      );
    }
    if (record.offsetBytes + record.lengthBytes > epoch.begin.diskSizeBytes) {
      throw new TargetError(
        'EXTENTLOG_ERR_REPLAY_RECORD',
        `disk ${record.disk} seq ${record.seq}: extent [${record.offsetBytes}, ${record.offsetBytes + record.lengthBytes}) ends beyond the disk's ${epoch.begin.diskSizeBytes} bytes`,
      );
    }
    epoch.digest.add(record);
    if (record.op === 'WRITE') epoch.dataBytes += record.lengthBytes;
    if (alreadyDurable) return;
    const disk = await this.#started(epoch);
    await disk.apply({
      offsetBytes: record.offsetBytes,
      lengthBytes: record.lengthBytes,
      op: record.op,
      data: record.data,
    });
    this.#firstUndurableOffset ??= offset;
    this.#appliedRecords += 1;
    this.#appliedBytes += record.op === 'WRITE' ? record.lengthBytes : 0;
    this.#newestSourceTimeMs = Number(record.completedAtNs / 1_000_000n);
  }

  async #commit(record: SyncCommitRecord, offset: number, alreadyDurable: boolean): Promise<void> {
    const epoch = this.#epoch;
    if (epoch === null) return; // waiting, or its SyncBegin lies before a rewind: nothing to seal
    if (record.epoch !== epoch.begin.epoch) {
      throw new TargetError(
        'EXTENTLOG_ERR_REPLAY_RECORD',
        `disk ${record.disk}: SyncCommit seq ${record.seq} closes epoch ${record.epoch} but epoch ${epoch.begin.epoch} is open`,
      );
    }
    const digest = epoch.digest.hex();
    if (
      record.extentCount !== epoch.digest.extentCount ||
      record.digest !== digest ||
      record.dataBytes !== epoch.dataBytes
    ) {
      throw new TargetError(
        'EXTENTLOG_ERR_REPLAY_DIGEST',
        `epoch ${record.epoch} of disk ${record.disk} does not match its SyncCommit (seq ${record.seq}): ` +
          `${epoch.digest.extentCount} extents / ${epoch.dataBytes} data bytes / digest ${digest} replayed, ` +
          `${record.extentCount} / ${record.dataBytes} / ${record.digest} published`,
      );
    }
    this.#epoch = null;
    this.#newestSourceTimeMs = record.committedAtMs;
    if (alreadyDurable) return;
    const disk = await this.#started(epoch);
    await disk.flush();
    this.#firstUndurableOffset = null;
    const location = await disk.commitEpoch({
      epoch: record.epoch,
      extentCount: record.extentCount,
      bytes: record.dataBytes,
      digest: record.digest,
      sourceReference: record.sourceReference,
      committedAtMs: record.committedAtMs,
    });
    const point: RestorePoint = {
      target: this.#options.targetName,
      feed: record.feed,
      disk: record.disk,
      epoch: record.epoch,
      sourceReference: record.sourceReference,
      digest: record.digest,
      diskSizeBytes: epoch.begin.diskSizeBytes,
      committedAtMs: record.committedAtMs,
      durableAtMs: this.#options.now(),
      location: location.location ?? null,
    };
    await this.#options.publishRestorePoint(point);
    this.#lastRestorePoint = point;
    this.#options.logger.info(
      { target: this.#options.targetName, disk: record.disk, epoch: record.epoch, offset },
      'restore point recorded',
    );
  }
}
