/**
 * One disk replicated onto an iSCSI LUN. Extents become SCSI block commands
 * (extent-commands.ts) that are pipelined: `apply()` resolves once its commands are issued,
 * with at most `maxInFlightCommands` / `maxInFlightBytes` outstanding, and `flush()` waits for
 * all of them and then issues SYNCHRONIZE CACHE(16) — only then are the writes durable and
 * may the replay engine commit their offsets.
 *
 * Invariants:
 * - Commands that touch a common block run in the order they were applied: a command waits
 *   for the earlier in-flight commands it overlaps (SCSI may reorder SIMPLE tasks).
 * - Every command since the last SYNCHRONIZE CACHE is kept, in order, until one completes on
 *   the session every one of them completed on. When the connection was re-established in
 *   between, the target may have lost acknowledged writes with its cache, so all of them are
 *   issued again, in order, before synchronizing. They are idempotent, so that is harmless;
 *   `maxUnsyncedBytes` bounds what is kept by synchronizing early.
 * - The first command that fails for good fails the disk: every later call throws it, and
 *   the replay engine reopens the disk from its last durable offset.
 */
import type { Logger } from 'pino';
import { describeError } from '../../errors/extentlog-error.js';
import { NativeError } from '../../native/errors.js';
import { refusesCommand, senseOf } from '../../native/iscsi/index.js';
import { TargetError } from '../errors.js';
import type {
  ApplyExtent,
  EpochBegin,
  EpochCommit,
  RestorePointLocation,
  TargetDisk,
} from '../target.js';
import {
  commandBlocks,
  commandDataBytes,
  planExtent,
  type BlockCommand,
} from './extent-commands.js';
import type { Completion, Lun, LunGeometry } from './lun.js';

export interface IscsiTargetDiskOptions {
  readonly diskId: string;
  readonly lun: Lun;
  /** Where the restore point lives: iscsi://portal/iqn/lun. */
  readonly location: string;
  readonly maxInFlightCommands: number;
  readonly maxInFlightBytes: number;
  readonly maxUnsyncedBytes: number;
  readonly logger: Logger;
}

/** A command issued to the LUN, kept until a SYNCHRONIZE CACHE covers it. */
interface Issued {
  readonly command: BlockCommand;
  readonly firstLba: number;
  readonly endLba: number;
  readonly dataBytes: number;
  /** The session generation it completed on (the oldest, for a command sent in pieces). */
  generation: number | null;
  done: Promise<void>;
}

/** Rounds of re-issue and SYNCHRONIZE CACHE before flush() gives up on a flapping connection. */
const MAX_SYNC_ROUNDS = 3;
const INVALID_OPCODE = 0x20;

export class IscsiTargetDisk implements TargetDisk {
  private readonly lun: Lun;
  private geometry: LunGeometry;
  private readonly inFlight = new Set<Issued>();
  private inFlightBytes = 0;
  private unsynced: Issued[] = [];
  private unsyncedBytes = 0;
  private waiters: (() => void)[] = [];
  private failure: unknown = null;
  private closed = false;
  /** The LUN refused WRITE SAME / UNMAP / SYNCHRONIZE CACHE: use the fallbacks from now on. */
  private writeSameRefused = false;
  private unmapRefused = false;
  private syncCacheRefused = false;

  constructor(private readonly options: IscsiTargetDiskOptions) {
    this.lun = options.lun;
    this.geometry = options.lun.geometry;
  }

  async beginEpoch(begin: EpochBegin): Promise<void> {
    this.checkOpen();
    await this.drain();
    this.throwIfFailed();
    if (begin.diskSizeBytes > this.geometry.sizeBytes)
      this.geometry = await this.guard(() => this.lun.refreshGeometry());
    if (begin.diskSizeBytes > this.geometry.sizeBytes)
      throw lunTooSmall(this.options.diskId, this.lun, begin.diskSizeBytes, this.geometry);
  }

  async apply(extent: ApplyExtent): Promise<void> {
    this.checkOpen();
    this.checkExtent(extent);
    this.throwIfFailed();
    for (const command of planExtent(extent, this.geometry)) await this.issue(command);
    if (this.unsyncedBytes >= this.options.maxUnsyncedBytes) await this.flush();
  }

  async flush(): Promise<void> {
    this.checkOpen();
    await this.drain();
    this.throwIfFailed();
    for (let round = 1; ; round++) {
      const synced = await this.synchronizeCache();
      const atRisk = this.unsynced.filter((issued) => issued.generation !== synced);
      if (synced === null || atRisk.length === 0) {
        this.unsynced = [];
        this.unsyncedBytes = 0;
        return;
      }
      if (round >= MAX_SYNC_ROUNDS)
        throw new TargetError(
          'EXTENTLOG_ERR_TARGET_WRITE',
          `disk ${this.options.diskId}: the connection to ${this.lun.description} kept breaking while its writes were made durable (${round} rounds)`,
          { retriable: true, details: { diskId: this.options.diskId, lun: this.lun.description } },
        );
      this.options.logger.warn(
        {
          diskId: this.options.diskId,
          lun: this.lun.description,
          commands: this.unsynced.length,
          atRisk: atRisk.length,
        },
        'iscsi target: the session changed since writes were acknowledged; issuing them again before SYNCHRONIZE CACHE',
      );
      await this.reissueUnsynced();
    }
  }

  async commitEpoch(_commit: EpochCommit): Promise<RestorePointLocation> {
    this.checkOpen();
    return { location: this.options.location };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.drain();
    await this.lun.close();
  }

  /** Issues one command once the pipeline has room; overlapping earlier commands go first. */
  private async issue(command: BlockCommand): Promise<void> {
    const blockSizeBytes = this.geometry.blockSizeBytes;
    const dataBytes = commandDataBytes(command, blockSizeBytes);
    while (
      this.inFlight.size >= this.options.maxInFlightCommands ||
      (this.inFlightBytes > 0 && this.inFlightBytes + dataBytes > this.options.maxInFlightBytes)
    )
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    this.throwIfFailed();
    const [firstLba, endLba] = commandBlocks(command, blockSizeBytes);
    const earlier = [...this.inFlight]
      .filter((other) => other.firstLba < endLba && firstLba < other.endLba)
      .map((other) => other.done);
    const issued: Issued = {
      command,
      firstLba,
      endLba,
      dataBytes,
      generation: null,
      done: Promise.resolve(),
    };
    this.inFlight.add(issued);
    this.inFlightBytes += dataBytes;
    this.unsynced.push(issued);
    this.unsyncedBytes += dataBytes;
    issued.done = this.complete(issued, earlier);
  }

  private async complete(issued: Issued, earlier: Promise<void>[]): Promise<void> {
    try {
      if (earlier.length > 0) await Promise.all(earlier);
      if (this.failure === null) issued.generation = await this.execute(issued.command);
    } catch (error) {
      this.failure ??= error;
    } finally {
      this.inFlight.delete(issued);
      this.inFlightBytes -= issued.dataBytes;
      const waiters = this.waiters;
      this.waiters = [];
      for (const wake of waiters) wake();
    }
  }

  private async drain(): Promise<void> {
    while (this.inFlight.size > 0)
      await Promise.all([...this.inFlight].map((issued) => issued.done));
  }

  /** Issues every unsynced command again, in order, one after another. */
  private async reissueUnsynced(): Promise<void> {
    for (const issued of this.unsynced)
      issued.generation = await this.guard(() => this.execute(issued.command));
  }

  /** SYNCHRONIZE CACHE(16); the session generation it completed on, or null for a LUN without a cache. */
  private async synchronizeCache(): Promise<number | null> {
    if (this.syncCacheRefused) return null;
    try {
      return (await this.lun.synchronizeCache()).generation;
    } catch (error) {
      if (senseOf(error)?.asc !== INVALID_OPCODE) throw this.writeFailure(error);
      // A unit without SYNCHRONIZE CACHE has no volatile cache: acknowledged writes are durable.
      this.syncCacheRefused = true;
      this.options.logger.warn(
        { diskId: this.options.diskId, lun: this.lun.description },
        'iscsi target: the LUN does not implement SYNCHRONIZE CACHE; taking acknowledged writes as durable',
      );
      return null;
    }
  }

  /** Runs one command; resolves with the oldest session generation any piece completed on. */
  private async execute(command: BlockCommand): Promise<number> {
    const { blockSizeBytes } = this.geometry;
    switch (command.kind) {
      case 'write':
        return (await this.lun.write(command.lba, command.data)).generation;
      case 'write-same':
        if (!this.writeSameRefused)
          try {
            return (await this.lun.writeSame(command.lba, command.blocks, command.unmap))
              .generation;
          } catch (error) {
            if (!refusesCommand(error)) throw error;
            this.writeSameRefused = true;
            this.logRefused('WRITE SAME(16)', 'writing zeros instead');
          }
        return this.writeZeros(command.lba, command.blocks);
      case 'unmap':
        if (!this.unmapRefused)
          try {
            return (await this.lun.unmap(command.ranges)).generation;
          } catch (error) {
            if (!refusesCommand(error)) throw error;
            this.unmapRefused = true;
            this.logRefused('UNMAP', 'zeroing discarded ranges instead');
          }
        return this.oldest(
          await Promise.all(
            command.ranges.map((range) =>
              this.execute({
                kind: 'write-same',
                lba: range.lba,
                blocks: range.blocks,
                unmap: false,
              }),
            ),
          ),
        );
      case 'patch': {
        const block = Buffer.alloc(blockSizeBytes);
        const read = await this.lun.read(command.lba, block);
        if (command.bytes === null)
          block.fill(
            0,
            command.offsetInBlockBytes,
            command.offsetInBlockBytes + command.lengthBytes,
          );
        else command.bytes.copy(block, command.offsetInBlockBytes);
        const written = await this.lun.write(command.lba, block);
        return Math.min(read.generation, written.generation);
      }
    }
  }

  private async writeZeros(lba: number, blocks: number): Promise<number> {
    const { blockSizeBytes, maxWriteBytes } = this.geometry;
    const zeros = Buffer.alloc(Math.min(maxWriteBytes, blocks * blockSizeBytes));
    const generations: Completion[] = [];
    for (let done = 0; done < blocks;) {
      const count = Math.min(zeros.length / blockSizeBytes, blocks - done);
      generations.push(await this.lun.write(lba + done, zeros.subarray(0, count * blockSizeBytes)));
      done += count;
    }
    return this.oldest(generations.map((completion) => completion.generation));
  }

  private oldest(generations: readonly number[]): number {
    return Math.min(...generations);
  }

  private logRefused(command: string, instead: string): void {
    this.options.logger.warn(
      { diskId: this.options.diskId, lun: this.lun.description, command },
      `iscsi target: the LUN refuses ${command}; ${instead}`,
    );
  }

  private async guard<T>(run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      throw this.writeFailure(error);
    }
  }

  private writeFailure(error: unknown): TargetError {
    if (error instanceof TargetError) return error;
    return new TargetError(
      'EXTENTLOG_ERR_TARGET_WRITE',
      `disk ${this.options.diskId}: ${this.lun.description}: ${describeError(error)}`,
      {
        cause: error,
        retriable: error instanceof NativeError ? error.retriable : true,
        details: { diskId: this.options.diskId, lun: this.lun.description },
      },
    );
  }

  private throwIfFailed(): void {
    if (this.failure !== null) throw this.writeFailure(this.failure);
  }

  private checkExtent(extent: ApplyExtent): void {
    const { offsetBytes, lengthBytes } = extent;
    const problem =
      !Number.isSafeInteger(offsetBytes) ||
      !Number.isSafeInteger(lengthBytes) ||
      offsetBytes < 0 ||
      lengthBytes < 0 ||
      offsetBytes + lengthBytes > this.geometry.sizeBytes
        ? `lies outside the LUN's ${this.geometry.sizeBytes} bytes`
        : extent.op === 'WRITE' && (extent.data === null || extent.data.length !== lengthBytes)
          ? `carries ${extent.data?.length ?? 'no'} data bytes for a length of ${lengthBytes}`
          : null;
    if (problem !== null)
      throw new TargetError(
        'EXTENTLOG_ERR_TARGET_BAD_EXTENT',
        `disk ${this.options.diskId}: ${extent.op} extent at offset ${offsetBytes} of ${lengthBytes} bytes ${problem} (${this.lun.description})`,
        { details: { diskId: this.options.diskId, offsetBytes, lengthBytes } },
      );
  }

  private checkOpen(): void {
    if (this.closed)
      throw new TargetError(
        'EXTENTLOG_ERR_TARGET_CLOSED',
        `disk ${this.options.diskId}: ${this.lun.description} was used after close()`,
      );
  }
}

export function lunTooSmall(
  diskId: string,
  lun: Lun,
  diskSizeBytes: number,
  geometry: LunGeometry,
): TargetError {
  return new TargetError(
    'EXTENTLOG_ERR_TARGET_TOO_SMALL',
    `disk ${diskId} has ${diskSizeBytes} bytes but ${lun.description} has only ${geometry.sizeBytes} bytes (${geometry.sizeBytes / geometry.blockSizeBytes} blocks of ${geometry.blockSizeBytes}): give the LUN at least ${diskSizeBytes} bytes`,
    {
      details: {
        diskId,
        lun: lun.description,
        diskSizeBytes,
        lunSizeBytes: geometry.sizeBytes,
      },
    },
  );
}
