/**
 * The kernel-journal source: disks protected by the extentlog device-mapper target
 * (kmod/), whose journal (/dev/extentlog/<name>, kmod/uapi/extentlog.h) records every
 * write, discard, write-zeroes and flush with its issue and completion time. Each cycle
 * is a CONTINUOUS change stream (journal-cycle.ts): epochs of coalesced writes read from a
 * COW snapshot taken at each consistency point, in completion order.
 *
 * A cycle resumes from the committed reference (`kjournal:<journal id>:<pos>`) when the
 * journal still holds every record after it; otherwise — first cycle, a new journal id
 * (module reloaded, table re-created, host rebooted), records dropped after the committed
 * position, or data records released after it — it opens a FULL epoch read from a
 * snapshot and says why in `rebaselineReason`, then continues the stream from the
 * snapshot's marker.
 */
import type { Logger } from 'pino';
import { SourceError } from '../errors.js';
import type { ChangeSet, ChangeSource, CommittedReference, DiskInfo } from '../source.js';
import { JournalCycle, type JournalSettings } from './journal-cycle.js';
import type { JournalDevice, JournalInfo, OpenJournal } from './journal-device.js';
import { parseJournalReference } from './journal-reference.js';

const SECTOR_BYTES = 512;
const KiB = 1024;

export interface KernelJournalDiskConfig {
  readonly diskId: string;
  /** The target's journal, /dev/extentlog/<name>. */
  readonly journalPath: string;
  /** A file or block device for COW snapshots, not on the protected device. */
  readonly cowStorePath: string;
}

export interface KernelJournalSourceOptions {
  readonly disks: readonly KernelJournalDiskConfig[];
  readonly openJournal: OpenJournal;
  /** COW granularity: a power of two from 4 KiB to 1 MiB (default 64 KiB). */
  readonly chunkBytes?: number;
  /** Longest time between consistency points while writes arrive (default 1000 ms). */
  readonly intervalMs?: number;
  /** After a flush or FUA write, a point this soon after the last one (default 100 ms). */
  readonly barrierMinIntervalMs?: number;
  /** Largest extent read from a snapshot at once (default 1 MiB). */
  readonly maxExtentBytes?: number;
  /** Records per read(2) (default 4096). */
  readonly readBatchRecords?: number;
  readonly logger: Logger;
  readonly now?: () => number;
}

/** Extents are widened to whole blocks of this size (the journal itself is sector-exact). */
export const KERNEL_JOURNAL_BLOCK_BYTES = 4 * KiB;

function settingsOf(options: KernelJournalSourceOptions): JournalSettings {
  const settings: JournalSettings = {
    chunkBytes: options.chunkBytes ?? 64 * KiB,
    intervalMs: options.intervalMs ?? 1000,
    barrierMinIntervalMs: options.barrierMinIntervalMs ?? 100,
    maxExtentBytes: options.maxExtentBytes ?? 1024 * KiB,
    readBatchRecords: options.readBatchRecords ?? 4096,
    pollMs: 200,
  };
  const invalid = (option: string, expected: string, received: number) =>
    new SourceError(
      'EXTENTLOG_ERR_SOURCE_CONFIG',
      `kernel-journal source: ${option} must be ${expected}, received ${received}`,
      { details: { option } },
    );
  const { chunkBytes, maxExtentBytes } = settings;
  if (chunkBytes < 4 * KiB || chunkBytes > 1024 * KiB || (chunkBytes & (chunkBytes - 1)) !== 0)
    throw invalid('chunkBytes', 'a power of two from 4096 to 1048576', chunkBytes);
  if (maxExtentBytes < KERNEL_JOURNAL_BLOCK_BYTES || maxExtentBytes % KERNEL_JOURNAL_BLOCK_BYTES)
    throw invalid('maxExtentBytes', `a multiple of ${KERNEL_JOURNAL_BLOCK_BYTES}`, maxExtentBytes);
  for (const option of ['intervalMs', 'barrierMinIntervalMs', 'readBatchRecords'] as const) {
    if (!Number.isSafeInteger(settings[option]) || settings[option] < 1)
      throw invalid(option, 'a positive integer', settings[option]);
  }
  return settings;
}

/** Why a cycle cannot resume from `since` on this journal, or null when it can. */
export function rebaselineReasonOf(info: JournalInfo, since: CommittedReference): string | null {
  const position = parseJournalReference(since.reference);
  if (position === null)
    return `the committed reference '${since.reference}' is not a kernel journal position`;
  if (position.journalId !== info.journalId) {
    return (
      `the kernel journal was re-created (module reloaded, target re-created or host rebooted): ` +
      `epoch ${since.epoch} was committed in journal ${position.journalId.toString(16)}, ` +
      `the target now has journal ${info.journalId.toString(16)}`
    );
  }
  if (info.lostTotal > position.lostTotal) {
    return (
      `the kernel journal overflowed after the committed position ${position.pos}: ` +
      `${info.lostTotal - position.lostTotal} records were dropped since`
    );
  }
  if (info.tailPos > position.pos && info.ackedDataEnd > position.pos) {
    return `records after the committed position ${position.pos} were released (up to ${info.tailPos})`;
  }
  if (position.pos > info.headPos) {
    return `the committed position ${position.pos} lies beyond the journal's head ${info.headPos}`;
  }
  return null;
}

class KernelJournalSource implements ChangeSource {
  readonly kind = 'kernel-journal';
  readonly #options: KernelJournalSourceOptions;
  readonly #settings: JournalSettings;
  readonly #cycles = new Set<JournalCycle>();

  constructor(options: KernelJournalSourceOptions) {
    this.#options = options;
    this.#settings = settingsOf(options);
    const ids = new Set<string>();
    for (const disk of options.disks) {
      if (ids.has(disk.diskId)) {
        throw new SourceError(
          'EXTENTLOG_ERR_SOURCE_CONFIG',
          `kernel-journal source: disk id '${disk.diskId}' is used twice`,
        );
      }
      ids.add(disk.diskId);
    }
  }

  #config(diskId: string): KernelJournalDiskConfig {
    const config = this.#options.disks.find((disk) => disk.diskId === diskId);
    if (config === undefined) {
      throw new SourceError(
        'EXTENTLOG_ERR_SOURCE_UNKNOWN_DISK',
        `kernel-journal source has no disk '${diskId}'; its disks are ${this.#options.disks.map((disk) => disk.diskId).join(', ')}`,
      );
    }
    return config;
  }

  async #open(
    config: KernelJournalDiskConfig,
  ): Promise<{ journal: JournalDevice; info: JournalInfo }> {
    let journal: JournalDevice;
    try {
      journal = await this.#options.openJournal(config.journalPath);
    } catch (error) {
      throw new SourceError(
        'EXTENTLOG_ERR_SOURCE_OPEN',
        `disk ${config.diskId}: the kernel journal ${config.journalPath} could not be opened`,
        { cause: error, details: { disk: config.diskId, journal: config.journalPath } },
      );
    }
    try {
      return { journal, info: await journal.info() };
    } catch (error) {
      await journal.close().catch(() => undefined);
      throw new SourceError(
        'EXTENTLOG_ERR_SOURCE_OPEN',
        `disk ${config.diskId}: the kernel journal ${config.journalPath} did not answer EXL_IOC_INFO`,
        { cause: error, details: { disk: config.diskId, journal: config.journalPath } },
      );
    }
  }

  #diskInfo(config: KernelJournalDiskConfig, info: JournalInfo): DiskInfo {
    return {
      diskId: config.diskId,
      sizeBytes: Number(info.deviceSectors) * SECTOR_BYTES,
      blockSizeBytes: KERNEL_JOURNAL_BLOCK_BYTES,
    };
  }

  async disks(): Promise<readonly DiskInfo[]> {
    const disks: DiskInfo[] = [];
    for (const config of this.#options.disks) {
      const { journal, info } = await this.#open(config);
      await journal.close();
      disks.push(this.#diskInfo(config, info));
    }
    return disks;
  }

  async open(disk: DiskInfo, since: CommittedReference | null): Promise<ChangeSet> {
    const config = this.#config(disk.diskId);
    const { journal, info } = await this.#open(config);
    try {
      const current = this.#diskInfo(config, info);
      const reason =
        since === null
          ? null
          : current.sizeBytes !== disk.sizeBytes
            ? `the protected device changed size from ${disk.sizeBytes} to ${current.sizeBytes} bytes`
            : rebaselineReasonOf(info, since);
      const full = since === null || reason !== null;
      const cycleBase = {
        disk: current,
        journalPath: config.journalPath,
        cowStorePath: config.cowStorePath,
        journal,
        journalId: info.journalId,
        tailPos: info.tailPos,
        settings: this.#settings,
        logger: this.#options.logger,
        now: this.#options.now ?? Date.now,
        onClose: (cycle: JournalCycle) => this.#cycles.delete(cycle),
      };
      let cycle: JournalCycle;
      if (full) {
        if (reason !== null) {
          this.#options.logger.warn(
            { disk: disk.diskId, journal: config.journalPath, reason },
            're-baselining from the kernel journal',
          );
        }
        const snapshot = await journal
          .startSnapshot(config.cowStorePath, this.#settings.chunkBytes, { releaseBelow: true })
          .catch((error: unknown) => {
            throw new SourceError(
              'EXTENTLOG_ERR_SOURCE_SNAPSHOT',
              `disk ${disk.diskId}: a COW snapshot on ${config.cowStorePath} could not be started for a FULL epoch`,
              { cause: error, details: { disk: disk.diskId, cowStore: config.cowStorePath } },
            );
          });
        cycle = new JournalCycle({
          ...cycleBase,
          mode: 'FULL',
          baseReference: null,
          startPos: 0n,
          startLost: 0n,
          fullSnapshot: snapshot,
          ...(reason === null ? {} : { rebaselineReason: reason }),
        });
      } else {
        cycle = new JournalCycle({
          ...cycleBase,
          mode: 'CONTINUOUS',
          baseReference: since.reference,
          startPos: parseJournalReference(since.reference)!.pos,
          startLost: parseJournalReference(since.reference)!.lostTotal,
          fullSnapshot: null,
        });
      }
      this.#cycles.add(cycle);
      return cycle;
    } catch (error) {
      await journal.close().catch(() => undefined);
      throw error;
    }
  }

  async close(): Promise<void> {
    await Promise.all(
      [...this.#cycles].map((cycle) => cycle.abort(new Error('the source closed'))),
    );
  }
}

export function createKernelJournalSource(options: KernelJournalSourceOptions): ChangeSource {
  return new KernelJournalSource(options);
}
