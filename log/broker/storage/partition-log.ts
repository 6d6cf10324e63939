/**
 * A partition's log at run time: ordered appends with offset assignment, group-committed
 * fsyncs that advance the high watermark, fetch reads capped at the high watermark, long
 * polls, segment rolls, and the hooks retention and compaction use to swap segments while
 * readers continue.
 *
 * Invariants:
 *   - appends run one at a time (a promise chain); offsets are assigned inside it;
 *   - the high watermark only covers bytes an fdatasync has completed for: it is the offset
 *     and byte position (in the segment starting at `durableSegmentBase`) the last flush
 *     captured before it started;
 *   - `segments` is replaced, never mutated, so a reader's snapshot stays consistent;
 *   - after a failed write or fsync the partition is offline (KAFKA_STORAGE_ERROR) until the
 *     store is reopened and recovery has rechecked the tail.
 */
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { fsyncDirectory, unlinkDurably, writeFileAtomic } from './durable-file.js';
import { StoreError } from './errors.js';
import { FlushScheduler } from './flush-scheduler.js';
import { SNAPSHOT_SUFFIX, type PartitionLocation } from './partition-recovery.js';
import type { ProducerStateTable } from './producer-state.js';
import { writeBaseOffset, type BatchHeader } from './record-batch-header.js';
import { validateProducedEntry } from './record-batch-validation.js';
import { Segment, segmentFileStem } from './segment.js';
import { readBatchesFrom } from './segment-reader.js';
import { scanSegmentFile } from './segment-scanner.js';
import type {
  AppendOptions,
  AppendResult,
  PartitionLog,
  ReadResult,
  StoreLogger,
  TopicConfig,
} from './store.js';

const MAX_RELATIVE_OFFSET = 0xffff_ffff;
const SNAPSHOTS_KEPT = 2;
const EMPTY = Buffer.alloc(0);

export interface PartitionRuntime {
  /** The topic's current config (read at every append). */
  readonly config: () => TopicConfig;
  readonly indexIntervalBytes: number;
  readonly flushIntervalMs: number;
  readonly logger: StoreLogger;
}

interface Waiter {
  readonly offset: number;
  readonly wake: () => void;
}

export class DiskPartitionLog implements PartitionLog {
  readonly topic: string;
  readonly partition: number;
  readonly directory: string;
  private segments: readonly Segment[];
  private durableOffset: number;
  private durableSegmentBase: number;
  private durablePositionBytes: number;
  private appendChain: Promise<unknown> = Promise.resolve();
  private readonly background = new Set<Promise<void>>();
  private readonly flusher: FlushScheduler;
  private readonly waiters = new Set<Waiter>();
  private failure: StoreError | null = null;
  private closed = false;

  constructor(
    location: PartitionLocation,
    recovered: { segments: Segment[]; producers: ProducerStateTable },
    private readonly runtime: PartitionRuntime,
  ) {
    this.topic = location.topic;
    this.partition = location.partition;
    this.directory = location.directory;
    this.segments = recovered.segments;
    this.producers = recovered.producers;
    const active = this.active;
    this.durableOffset = active.nextOffset;
    this.durableSegmentBase = active.baseOffset;
    this.durablePositionBytes = active.sizeBytes;
    this.flusher = new FlushScheduler(
      () => this.flushWritten(),
      (error) => this.fail('flush', error),
    );
  }

  private readonly producers: ProducerStateTable;

  private get active(): Segment {
    const active = this.segments.at(-1);
    if (active === undefined) throw new Error('a partition log always has a segment');
    return active;
  }

  logStartOffset(): number {
    return this.segments[0]?.baseOffset ?? 0;
  }

  highWatermark(): number {
    return this.durableOffset;
  }

  async append(batches: Buffer, options: AppendOptions): Promise<AppendResult> {
    this.assertOnline();
    const config = this.runtime.config();
    const headers = validateProducedEntry(batches, {
      topic: this.topic,
      partition: this.partition,
      maxMessageBytes: config.maxMessageBytes,
    });
    const appended = this.appendChain.then(() => this.appendNow(batches, headers, config));
    this.appendChain = appended.catch(() => undefined);
    const { baseOffset, lastOffset, duplicate } = await appended;
    if (options.durable) {
      if (this.durableOffset <= lastOffset) await this.flusher.flushNow();
      this.assertOnline();
    } else if (this.durableOffset <= lastOffset)
      this.flusher.flushWithin(this.runtime.flushIntervalMs);
    return { baseOffset, logAppendTimeMs: -1, logStartOffset: this.logStartOffset(), duplicate };
  }

  async read(fetchOffset: number, maxBytes: number): Promise<ReadResult> {
    this.assertOnline();
    const highWatermark = this.durableOffset;
    const logStartOffset = this.logStartOffset();
    if (fetchOffset < logStartOffset || fetchOffset > highWatermark)
      throw new StoreError(
        'OFFSET_OUT_OF_RANGE',
        `fetch offset ${fetchOffset} of ${this.label()} is outside [${logStartOffset}, ${highWatermark}]; reset the consumer to the earliest or latest offset`,
        {
          topic: this.topic,
          partition: this.partition,
          fetchOffset,
          logStartOffset,
          highWatermark,
        },
      );
    let records: Buffer | null = null;
    if (fetchOffset < highWatermark)
      records = await this.withSegmentsFrom(fetchOffset, (segment, limitBytes) =>
        readBatchesFrom(segment, fetchOffset, maxBytes, limitBytes),
      );
    return { records: records ?? EMPTY, highWatermark, logStartOffset };
  }

  waitForData(offset: number, timeoutMs: number, signal?: AbortSignal): Promise<void> {
    if (this.durableOffset > offset || this.closed || this.failure !== null || signal?.aborted)
      return Promise.resolve();
    return new Promise((resolve) => {
      const finish = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', finish);
        this.waiters.delete(waiter);
        resolve();
      };
      const waiter: Waiter = { offset, wake: finish };
      const timer = setTimeout(finish, timeoutMs);
      signal?.addEventListener('abort', finish, { once: true });
      this.waiters.add(waiter);
    });
  }

  async offsetForTimestamp(timestampMs: number): Promise<number | null> {
    this.assertOnline();
    const logStartOffset = this.logStartOffset();
    const found = await this.withSegmentsFrom(logStartOffset, async (segment, limitBytes) => {
      if (segment.maxTimestampMs < timestampMs) return null;
      let offset: number | null = null;
      await scanSegmentFile(
        segment.fileHandle,
        {
          startBytes: segment.index.positionForTimestamp(timestampMs),
          endBytes: limitBytes,
          minBaseOffset: 0,
          verifyCrc: false,
          chunkBytes: 64 * 1024,
        },
        ({ header }) => {
          if (header.maxTimestamp < timestampMs) return true;
          offset = header.baseOffset;
          return false;
        },
      );
      return offset;
    });
    return found === null ? null : Math.max(found, logStartOffset);
  }

  /** Bytes of all segment files (index files are small and left out). */
  sizeBytes(): number {
    return this.segments.reduce((total, segment) => total + segment.sizeBytes, 0);
  }

  /** Closed segments wholly below the high watermark: what retention and compaction may touch. */
  settledSegments(): readonly Segment[] {
    return this.segments.filter(
      (segment) => segment !== this.active && segment.nextOffset <= this.durableOffset,
    );
  }

  /** Removes the oldest `count` segments (never the active one); logStartOffset advances. */
  async deleteOldestSegments(count: number): Promise<void> {
    const doomed = this.segments.slice(0, Math.min(count, this.segments.length - 1));
    if (doomed.length === 0) return;
    this.segments = this.segments.slice(doomed.length);
    for (const segment of doomed) {
      await unlinkDurably(this.directory, [
        path.basename(segment.logPath),
        path.basename(segment.indexPath),
      ]);
      await segment.retire();
    }
  }

  /** Swaps a closed segment for its rewritten version (already renamed into place). */
  async replaceSegment(old: Segment, replacement: Segment | null): Promise<void> {
    this.segments = this.segments.flatMap((segment) =>
      segment !== old ? [segment] : replacement === null ? [] : [replacement],
    );
    await old.retire();
  }

  expireProducers(nowMs: number, expirationMs: number): number {
    return this.producers.expire(nowMs, expirationMs);
  }

  /** Stops appends, makes everything durable and leaves indexes and a snapshot for a fast open. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.flusher.cancelTimer();
    await this.appendChain;
    await Promise.allSettled([...this.background]);
    try {
      if (this.failure === null) {
        await this.flusher.flushNow();
        await this.active.writeIndex();
        await this.writeProducerSnapshot(
          this.active.nextOffset,
          this.producers.serialize(this.active.nextOffset),
        );
      }
    } finally {
      this.wakeWaiters(true);
      await Promise.all(this.segments.map((segment) => segment.retire()));
    }
  }

  /** Closes without flushing or writing anything (the partition is being deleted). */
  async abandon(): Promise<void> {
    this.closed = true;
    this.flusher.cancelTimer();
    await this.appendChain;
    await Promise.allSettled([...this.background]);
    this.wakeWaiters(true);
    await Promise.all(this.segments.map((segment) => segment.retire()));
  }

  private async appendNow(
    entry: Buffer,
    headers: readonly BatchHeader[],
    config: TopicConfig,
  ): Promise<{ baseOffset: number; lastOffset: number; duplicate: boolean }> {
    this.assertOnline();
    const verdict = this.producers.checkEntry(headers);
    if (verdict.kind === 'duplicate')
      return { baseOffset: verdict.baseOffset, lastOffset: verdict.lastOffset, duplicate: true };
    const recordOffsets = headers.reduce((total, header) => total + header.lastOffsetDelta + 1, 0);
    if (this.mustRoll(entry.length, recordOffsets, config)) await this.roll();
    const active = this.active;
    const baseOffset = active.nextOffset;
    let offset = baseOffset;
    let position = 0;
    const assigned = headers.map((header) => {
      writeBaseOffset(entry, position, offset);
      const placed = { ...header, baseOffset: offset };
      offset += header.lastOffsetDelta + 1;
      position += header.sizeBytes;
      return placed;
    });
    try {
      await active.append(entry, assigned);
    } catch (error) {
      throw this.fail('write', error);
    }
    for (const header of assigned) this.producers.record(header);
    return { baseOffset, lastOffset: offset - 1, duplicate: false };
  }

  private mustRoll(entryBytes: number, recordOffsets: number, config: TopicConfig): boolean {
    const active = this.active;
    if (active.sizeBytes === 0) return false;
    return (
      active.sizeBytes + entryBytes > config.segmentBytes ||
      active.nextOffset + recordOffsets - active.baseOffset > MAX_RELATIVE_OFFSET ||
      (active.firstBatchTimestampMs >= 0 &&
        Date.now() - active.firstBatchTimestampMs >= config.segmentMs)
    );
  }

  /**
   * Starts a new active segment. The closed one gets its index and a producer-state snapshot
   * once a flush has made it durable (in the background: appends continue meanwhile).
   */
  private async roll(): Promise<void> {
    const closing = this.active;
    let next: Segment;
    try {
      next = await Segment.create(
        this.directory,
        closing.nextOffset,
        this.runtime.indexIntervalBytes,
      );
      await fsyncDirectory(this.directory);
    } catch (error) {
      throw this.fail('roll', error);
    }
    this.segments = [...this.segments, next];
    const snapshot = this.producers.serialize(closing.nextOffset);
    const task = (async () => {
      await this.flusher.flushNow();
      await closing.writeIndex();
      await this.writeProducerSnapshot(closing.nextOffset, snapshot);
    })().catch((error: unknown) => {
      if (!this.closed) this.fail('segment close', error);
    });
    this.background.add(task);
    void task.finally(() => this.background.delete(task));
  }

  private async writeProducerSnapshot(offset: number, snapshot: Buffer): Promise<void> {
    await writeFileAtomic(
      path.join(this.directory, segmentFileStem(offset) + SNAPSHOT_SUFFIX),
      snapshot,
    );
    const older = (await readdir(this.directory))
      .filter((name) => name.endsWith(SNAPSHOT_SUFFIX))
      .sort()
      .slice(0, -SNAPSHOTS_KEPT);
    if (older.length > 0) await unlinkDurably(this.directory, older);
  }

  /** The group-commit flush: fsyncs every segment written so far, then publishes the new end. */
  private async flushWritten(): Promise<void> {
    const active = this.active;
    const endOffset = active.nextOffset;
    const endPositionBytes = active.sizeBytes;
    const dirty = this.segments.filter((segment) => segment.dirty);
    try {
      await Promise.all(dirty.map((segment) => segment.flush()));
    } catch (error) {
      throw this.fail('fsync', error);
    }
    if (endOffset <= this.durableOffset) return;
    this.durableOffset = endOffset;
    this.durableSegmentBase = active.baseOffset;
    this.durablePositionBytes = endPositionBytes;
    this.wakeWaiters(false);
  }

  /**
   * Runs `visit` on the segments that may hold `offset` and later ones, in order, until it
   * returns non-null; each segment is held open during its visit and capped at the durable end.
   */
  private async withSegmentsFrom<T>(
    offset: number,
    visit: (segment: Segment, limitBytes: number) => Promise<T | null>,
  ): Promise<T | null> {
    let after = -1;
    for (;;) {
      const segments = this.segments;
      const segment =
        after < 0
          ? segments[segmentIndexFor(segments, offset)]
          : segments.find((candidate) => candidate.baseOffset > after);
      if (segment === undefined || segment.baseOffset > this.durableSegmentBase) return null;
      after = segment.baseOffset;
      if (!segment.acquire()) continue;
      try {
        const limitBytes =
          segment.baseOffset === this.durableSegmentBase
            ? this.durablePositionBytes
            : segment.sizeBytes;
        const result = await visit(segment, limitBytes);
        if (result !== null) return result;
      } catch (error) {
        if (error instanceof StoreError) throw error;
        throw this.fail('read', error);
      } finally {
        segment.release();
      }
    }
  }

  private wakeWaiters(all: boolean): void {
    for (const waiter of this.waiters) if (all || this.durableOffset > waiter.offset) waiter.wake();
  }

  private assertOnline(): void {
    if (this.failure !== null) throw this.failure;
    if (this.closed)
      throw new StoreError(
        'UNKNOWN_TOPIC_OR_PARTITION',
        `${this.label()} is closed or being deleted`,
        {
          topic: this.topic,
          partition: this.partition,
        },
      );
  }

  /** Takes the partition offline after an I/O failure; returns the error to throw. */
  private fail(operation: string, cause: unknown): StoreError {
    if (this.failure === null) {
      this.failure = new StoreError(
        'KAFKA_STORAGE_ERROR',
        `${operation} failed on ${this.label()} (${this.directory}): ${cause instanceof Error ? cause.message : String(cause)}; the partition is offline until the broker restarts and recovers it`,
        { topic: this.topic, partition: this.partition, operation },
        { cause },
      );
      this.runtime.logger.error(
        { topic: this.topic, partition: this.partition, operation, error: this.failure.message },
        'partition taken offline after an I/O failure',
      );
      this.wakeWaiters(true);
    }
    return this.failure;
  }

  private label(): string {
    return `${this.topic}-${this.partition}`;
  }
}

/** Index of the last segment whose base offset is ≤ `offset` (0 when none is). */
function segmentIndexFor(segments: readonly Segment[], offset: number): number {
  let low = 0;
  let high = segments.length - 1;
  let found = 0;
  while (low <= high) {
    const middle = (low + high) >>> 1;
    if ((segments[middle]?.baseOffset ?? Infinity) <= offset) {
      found = middle;
      low = middle + 1;
    } else high = middle - 1;
  }
  return found;
}
