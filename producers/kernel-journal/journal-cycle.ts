/**
 * One cycle of a disk protected by the extentlog kernel module (kmod/uapi/extentlog.h): a
 * CONTINUOUS change stream of the journal's records, cut into epochs at consistency points,
 * after a FULL epoch when the cycle re-baselines.
 *
 * Correctness rests on three rules:
 *  - An epoch ends at a COW snapshot. Starting one drains the writes in flight, so its
 *    marker splits the journal: every record below it completed before the snapshot, every
 *    later one after. The epoch's coalesced ranges are read from that snapshot, so what the
 *    epoch carries is the device's state at the marker — consistent, and at least as new as
 *    every write in the epoch. The snapshot ends before the consistency point is yielded.
 *  - Records are acknowledged (released from the kernel's ring) only once the SyncCommit of
 *    the epoch that covers them is durable, so a restarted producer is handed them again
 *    and resumes from the committed position. Records that change nothing (flushes) may be
 *    released early; the kernel's acked_data_end tells a restart that no data went with them.
 *  - A loss is never skipped: the journal counts every record it drops, and a point whose
 *    snapshot shows a higher count than the epoch's start (or a gap in positions) stops the
 *    cycle with EXTENTLOG_ERR_SOURCE_JOURNAL_OVERFLOW before the epoch commits; the next
 *    cycle re-baselines from a snapshot. OVERFLOW records only say so later: the drops they
 *    report may lie before a point that already accounts for them.
 *
 * Points are taken when writes are pending and `intervalMs` passed since the last one, or
 * sooner after a flush or FUA write (`barrierMinIntervalMs`), so that what an application
 * made durable reaches the log quickly.
 */
import type { Logger } from 'pino';
import { SourceError } from '../errors.js';
import type {
  BlockReader,
  ChangeItem,
  ChangeSet,
  ChangedExtent,
  DiskInfo,
  SyncMode,
} from '../source.js';
import { EpochExtents, type EpochExtent } from './epoch-extents.js';
import type { JournalDevice, JournalRecord, SnapshotStart } from './journal-device.js';
import { formatJournalReference, parseJournalReference } from './journal-reference.js';

export interface JournalSettings {
  readonly chunkBytes: number;
  readonly intervalMs: number;
  readonly barrierMinIntervalMs: number;
  readonly maxExtentBytes: number;
  readonly readBatchRecords: number;
  /** How long a read waits for records at most, so that end() and deadlines are seen. */
  readonly pollMs: number;
}

export interface JournalCycleOptions {
  readonly disk: DiskInfo;
  readonly journalPath: string;
  readonly cowStorePath: string;
  readonly journal: JournalDevice;
  readonly journalId: bigint;
  readonly mode: 'FULL' | 'CONTINUOUS';
  readonly baseReference: string | null;
  /** CONTINUOUS: the committed position (records below it are in the log). */
  readonly startPos: bigint;
  /** CONTINUOUS: the journal's count of dropped records at that position. */
  readonly startLost: bigint;
  /**
   * FULL: the snapshot the disk is read from, taken when the cycle opened with every record
   * below its marker released.
   */
  readonly fullSnapshot: SnapshotStart | null;
  /** The journal's tail when it was opened: nothing below it can be read. */
  readonly tailPos: bigint;
  readonly rebaselineReason?: string;
  readonly settings: JournalSettings;
  readonly logger: Logger;
  readonly now: () => number;
  readonly onClose: (cycle: JournalCycle) => void;
}

const NS_PER_MS = 1_000_000n;

function overflow(path: string, detail: string): SourceError {
  return new SourceError(
    'EXTENTLOG_ERR_SOURCE_JOURNAL_OVERFLOW',
    `kernel journal ${path}: ${detail}; the next cycle re-baselines the disk from a snapshot`,
    { details: { journal: path } },
  );
}

export class JournalCycle implements ChangeSet {
  readonly disk: DiskInfo;
  readonly mode: SyncMode;
  readonly reference: string;
  readonly baseReference: string | null;
  readonly rebaselineReason?: string;
  readonly reader: BlockReader;
  readonly #options: JournalCycleOptions;
  readonly #journal: JournalDevice;
  readonly #settings: JournalSettings;
  /** The snapshot this cycle holds, if any: one at a time per journal file. */
  #snapshot: SnapshotStart | null = null;
  #iterated = false;
  #ending = false;
  #closed = false;
  /** The highest position whose SyncCommit is durable, and what was acknowledged. */
  #durablePos: bigint;
  #ackedPos = 0n;
  /** 1 + the position of the last record read. */
  #readPos = 0n;

  constructor(options: JournalCycleOptions) {
    this.#options = options;
    this.#journal = options.journal;
    this.#settings = options.settings;
    this.disk = options.disk;
    this.mode = options.mode;
    this.baseReference = options.baseReference;
    this.reference = formatJournalReference({
      journalId: options.journalId,
      pos: options.fullSnapshot?.markerPos ?? options.startPos,
      lostTotal: options.fullSnapshot?.lostTotal ?? options.startLost,
    });
    if (options.rebaselineReason !== undefined) this.rebaselineReason = options.rebaselineReason;
    this.#snapshot = options.fullSnapshot;
    this.#durablePos = options.startPos;
    this.#readPos = options.fullSnapshot?.markerPos ?? options.tailPos;
    this.#ackedPos = options.fullSnapshot?.markerPos ?? 0n;
    this.reader = {
      read: (offsetBytes, lengthBytes) => this.#readAnywhere(offsetBytes, lengthBytes),
    };
  }

  get #path(): string {
    return this.#options.journalPath;
  }

  /** Ends the change stream at the next consistency point (at once when nothing is pending). */
  end(): void {
    this.#ending = true;
  }

  async *changes(): AsyncGenerator<ChangeItem> {
    if (this.#iterated) {
      throw new SourceError(
        'EXTENTLOG_ERR_SOURCE_CYCLE',
        `${this.#path}: changes() iterated twice`,
      );
    }
    this.#iterated = true;
    let start = { pos: this.#options.startPos, lostTotal: this.#options.startLost };
    const full = this.#options.fullSnapshot;
    if (full !== null) {
      // The FULL snapshot released every record below its marker (EXL_SNAP_RELEASE_BELOW):
      // the stream starts there.
      yield* this.#fullEpoch(full);
      await this.#stopSnapshot(full);
      start = { pos: full.markerPos, lostTotal: full.lostTotal };
      yield { kind: 'consistency-point', reference: this.#referenceAt(start) };
    }
    yield* this.#stream(start);
  }

  /** The whole disk, read from the snapshot taken when the cycle opened. */
  #fullEpoch(snapshot: SnapshotStart): AsyncGenerator<ChangedExtent> {
    const atNs = BigInt(this.#options.now()) * NS_PER_MS;
    return this.#snapshotRange(snapshot, 0, this.disk.sizeBytes, {
      issuedAtNs: atNs,
      completedAtNs: atNs,
      provenance: { snapshotId: String(snapshot.snapId) },
    });
  }

  /** WRITE extents of at most maxExtentBytes over [startBytes, endBytes), read from the snapshot. */
  async *#snapshotRange(
    snapshot: SnapshotStart,
    startBytes: number,
    endBytes: number,
    shared: Pick<ChangedExtent, 'issuedAtNs' | 'completedAtNs' | 'provenance'>,
  ): AsyncGenerator<ChangedExtent> {
    const { maxExtentBytes } = this.#settings;
    for (let offsetBytes = startBytes; offsetBytes < endBytes; offsetBytes += maxExtentBytes) {
      const lengthBytes = Math.min(maxExtentBytes, endBytes - offsetBytes);
      yield {
        kind: 'extent',
        offsetBytes,
        lengthBytes,
        op: 'WRITE',
        data: await this.#readSnapshot(snapshot, offsetBytes, lengthBytes),
        ...shared,
      };
    }
  }

  async *#stream(start: { pos: bigint; lostTotal: bigint }): AsyncGenerator<ChangeItem> {
    const settings = this.#settings;
    const now = this.#options.now;
    const startPos = start.pos;
    let committedPos = start.pos;
    let committedLost = start.lostTotal;
    let nextPos = start.pos;
    let epoch = this.#newEpoch();
    let barrier = false;
    let lastPointMs = now();
    let backlog: JournalRecord[] = [];
    let resuming = this.#options.fullSnapshot === null;
    const absorb = (records: readonly JournalRecord[]) => {
      for (const record of records) {
        if (record.pos < nextPos) continue; // handed again after a reopen: committed
        // Only a resumed stream may start past its position: flushes released early.
        if (record.pos !== nextPos && !(resuming && nextPos === startPos)) {
          throw overflow(this.#path, `records ${nextPos} to ${record.pos - 1n} are missing`);
        }
        resuming = false;
        nextPos = record.pos + 1n;
        barrier = this.#take(record, epoch) || barrier;
      }
    };
    for (;;) {
      absorb(backlog.splice(0));
      if (this.#ending) {
        // The last point covers what the journal holds now; later records wait in the
        // ring, unacknowledged, for the next cycle.
        const { headPos, lostTotal } = await this.#journal.info();
        while (this.#readPos < headPos) absorb(await this.#read(settings.pollMs));
        if (epoch.size > 0) yield* this.#point(epoch, committedLost, nextPos);
        else if (lostTotal > committedLost)
          throw overflow(
            this.#path,
            `${lostTotal - committedLost} records were dropped after position ${committedPos}`,
          );
        return;
      }
      const sinceMs = now() - lastPointMs;
      const due =
        epoch.size > 0 &&
        (sinceMs >= settings.intervalMs || (barrier && sinceMs >= settings.barrierMinIntervalMs));
      if (due) {
        const point = yield* this.#point(epoch, committedLost, nextPos);
        committedPos = point.markerPos;
        committedLost = point.lostTotal;
        nextPos = point.markerPos;
        backlog = point.leftovers;
        epoch = this.#newEpoch();
        barrier = false;
        lastPointMs = now();
        continue;
      }
      if (epoch.size === 0 && nextPos > committedPos && sinceMs >= settings.intervalMs) {
        // Only records that change nothing since the last point: release them.
        await this.#releaseQuiet(committedPos, committedLost, nextPos);
        committedPos = nextPos;
        lastPointMs = now();
      }
      absorb(await this.#read(this.#pollMs(lastPointMs, barrier, epoch.size > 0)));
    }
  }

  #newEpoch(): EpochExtents {
    return new EpochExtents(this.disk.blockSizeBytes, this.disk.sizeBytes);
  }

  /** How long the next read may wait: until a point falls due, and never past pollMs. */
  #pollMs(lastPointMs: number, barrier: boolean, pending: boolean): number {
    const { intervalMs, barrierMinIntervalMs, pollMs } = this.#settings;
    if (!pending) return pollMs;
    const dueAt = lastPointMs + (barrier ? barrierMinIntervalMs : intervalMs);
    return Math.max(1, Math.min(pollMs, dueAt - this.#options.now()));
  }

  /** Adds a record to the epoch; true for a barrier (flush or FUA). */
  #take(record: JournalRecord, epoch: EpochExtents): boolean {
    switch (record.type) {
      case 'WRITE':
      case 'DISCARD':
      case 'WRITE_ZEROES':
        epoch.add(record);
        return record.fua;
      case 'FLUSH':
        return true;
      case 'OVERFLOW':
        this.#options.logger.warn(
          { journal: this.#path, pos: String(record.pos), lost: String(record.arg) },
          'the kernel journal dropped records',
        );
        return false;
      default:
        return false; // snapshot markers
    }
  }

  async #read(timeoutMs: number): Promise<JournalRecord[]> {
    let records: JournalRecord[] | null;
    try {
      records = await this.#journal.read(this.#settings.readBatchRecords, timeoutMs);
    } catch (error) {
      throw new SourceError(
        'EXTENTLOG_ERR_SOURCE_READ',
        `reading the kernel journal ${this.#path} failed`,
        {
          cause: error,
          details: { journal: this.#path },
        },
      );
    }
    if (records === null) {
      throw new SourceError(
        'EXTENTLOG_ERR_SOURCE_JOURNAL_GONE',
        `the extentlog target of ${this.#path} was removed`,
        { details: { journal: this.#path } },
      );
    }
    const last = records.at(-1);
    if (last !== undefined && last.pos + 1n > this.#readPos) this.#readPos = last.pos + 1n;
    return records;
  }

  /**
   * Reads until every record below `markerPos` was handed to `epoch`; returns the records
   * at or past the marker that came with them.
   */
  async #readUpTo(
    markerPos: bigint,
    epoch: EpochExtents,
    fromPos: bigint,
  ): Promise<JournalRecord[]> {
    const leftovers: JournalRecord[] = [];
    let pos = fromPos;
    const deadline = this.#options.now() + 30_000;
    while (this.#readPos < markerPos) {
      for (const record of await this.#read(this.#settings.pollMs)) {
        if (record.pos < pos) continue;
        pos = record.pos + 1n;
        if (record.pos >= markerPos) leftovers.push(record);
        else this.#take(record, epoch);
      }
      if (this.#options.now() > deadline) {
        throw new SourceError(
          'EXTENTLOG_ERR_SOURCE_READ',
          `kernel journal ${this.#path}: the records below snapshot marker ${markerPos} did not arrive (read up to ${this.#readPos})`,
        );
      }
    }
    return leftovers;
  }

  /** Ends the epoch: snapshot, records up to its marker, ranges read from it, the point. */
  async *#point(
    epoch: EpochExtents,
    committedLost: bigint,
    nextPos: bigint,
  ): AsyncGenerator<
    ChangeItem,
    { markerPos: bigint; lostTotal: bigint; leftovers: JournalRecord[] }
  > {
    const snapshot = await this.#startSnapshot();
    let stopped = false;
    try {
      if (snapshot.lostTotal > committedLost) {
        throw overflow(
          this.#path,
          `${snapshot.lostTotal - committedLost} records were dropped during the epoch that ends at position ${snapshot.markerPos}`,
        );
      }
      const leftovers = await this.#readUpTo(snapshot.markerPos, epoch, nextPos);
      const { realtimeOffsetNs } = await this.#journal.info();
      for (const extent of epoch.byCompletion()) {
        yield* this.#extentItems(extent, snapshot, realtimeOffsetNs);
      }
      await this.#stopSnapshot(snapshot);
      stopped = true;
      this.#options.logger.debug(
        { journal: this.#path, markerPos: snapshot.markerPos, extents: epoch.size },
        'kernel journal consistency point',
      );
      const point = { pos: snapshot.markerPos, lostTotal: snapshot.lostTotal };
      yield { kind: 'consistency-point', reference: this.#referenceAt(point) };
      return { markerPos: snapshot.markerPos, lostTotal: snapshot.lostTotal, leftovers };
    } finally {
      if (!stopped) await this.#stopSnapshot(snapshot).catch(() => undefined);
    }
  }

  async *#extentItems(
    extent: EpochExtent,
    snapshot: SnapshotStart,
    realtimeOffsetNs: bigint,
  ): AsyncGenerator<ChangedExtent> {
    const shared = {
      issuedAtNs: extent.issuedNs + realtimeOffsetNs,
      completedAtNs: extent.completedNs + realtimeOffsetNs,
      provenance: { journalSeq: extent.seq, snapshotId: String(snapshot.snapId) },
    };
    if (extent.op === 'ZERO') {
      yield {
        kind: 'extent',
        offsetBytes: extent.startBytes,
        lengthBytes: extent.endBytes - extent.startBytes,
        op: 'ZERO',
        ...shared,
      };
      return;
    }
    yield* this.#snapshotRange(snapshot, extent.startBytes, extent.endBytes, shared);
  }

  /** Releases records that change nothing, after checking that none were lost among them. */
  async #releaseQuiet(committedPos: bigint, committedLost: bigint, nextPos: bigint) {
    if (this.#durablePos < committedPos) return; // the last point is not in the log yet
    const info = await this.#journal.info();
    if (info.lostTotal > committedLost) {
      throw overflow(
        this.#path,
        `${info.lostTotal - committedLost} records were dropped after position ${committedPos}`,
      );
    }
    await this.#ack(nextPos);
  }

  #referenceAt(point: { pos: bigint; lostTotal: bigint }): string {
    return formatJournalReference({ journalId: this.#options.journalId, ...point });
  }

  async #startSnapshot(): Promise<SnapshotStart> {
    try {
      this.#snapshot = await this.#journal.startSnapshot(
        this.#options.cowStorePath,
        this.#settings.chunkBytes,
      );
      return this.#snapshot;
    } catch (error) {
      throw new SourceError(
        'EXTENTLOG_ERR_SOURCE_SNAPSHOT',
        `kernel journal ${this.#path}: a COW snapshot on ${this.#options.cowStorePath} could not be started`,
        { cause: error, details: { journal: this.#path, cowStore: this.#options.cowStorePath } },
      );
    }
  }

  async #stopSnapshot(snapshot: SnapshotStart): Promise<void> {
    if (this.#snapshot?.snapId !== snapshot.snapId) return;
    this.#snapshot = null;
    await this.#journal.stopSnapshot(snapshot.snapId);
  }

  async #readSnapshot(
    snapshot: SnapshotStart,
    offsetBytes: number,
    lengthBytes: number,
  ): Promise<Buffer> {
    try {
      return await this.#journal.readSnapshot(snapshot.snapId, offsetBytes, lengthBytes);
    } catch (error) {
      throw new SourceError(
        'EXTENTLOG_ERR_SOURCE_SNAPSHOT',
        `kernel journal ${this.#path}: reading [${offsetBytes}, ${offsetBytes + lengthBytes}) of snapshot ${snapshot.snapId} failed ` +
          '(ESTALE: the COW store filled up or failed while the epoch was read)',
        { cause: error, details: { journal: this.#path, snapId: String(snapshot.snapId) } },
      );
    }
  }

  /** BlockReader: from the snapshot held now, or from one taken for this read. */
  async #readAnywhere(offsetBytes: number, lengthBytes: number): Promise<Buffer> {
    if (this.#snapshot !== null)
      return this.#readSnapshot(this.#snapshot, offsetBytes, lengthBytes);
    const snapshot = await this.#startSnapshot();
    try {
      return await this.#readSnapshot(snapshot, offsetBytes, lengthBytes);
    } finally {
      await this.#stopSnapshot(snapshot).catch(() => undefined);
    }
  }

  async #ack(pos: bigint): Promise<void> {
    const target = pos < this.#readPos ? pos : this.#readPos;
    if (target <= this.#ackedPos) return;
    await this.#journal.ack(target);
    this.#ackedPos = target;
  }

  async commitConsistencyPoint(reference: string): Promise<void> {
    const position = parseJournalReference(reference);
    if (position === null || position.journalId !== this.#options.journalId) {
      throw new SourceError(
        'EXTENTLOG_ERR_SOURCE_CYCLE',
        `${this.#path}: consistency point ${reference} is not of journal ${this.reference}`,
      );
    }
    if (position.pos > this.#durablePos) this.#durablePos = position.pos;
    if (!this.#closed) await this.#ack(position.pos);
  }

  async commit(): Promise<void> {
    await this.#close();
  }

  async abort(reason: unknown): Promise<void> {
    this.#options.logger.debug(
      { journal: this.#path, err: reason },
      'kernel journal cycle aborted',
    );
    await this.#close();
  }

  async #close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#ending = true;
    this.#options.onClose(this);
    // Closing the file ends a snapshot it holds; unacknowledged records stay in the ring.
    await this.#journal.close();
  }
}
