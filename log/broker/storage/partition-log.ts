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
import path from 'node:path';
import { fsyncDirectory, unlinkDurably } from './durable-file.js';
import { StoreError } from './errors.js';
import type { CompactionState } from './compaction.js';
import { FlushScheduler } from './flush-scheduler.js';
import { HighWatermarkWaiters } from './high-watermark-waiters.js';
import type { PartitionLocation } from './partition-recovery.js';
import { writeProducerSnapshot } from './producer-snapshots.js';
import type { ProducerStateTable } from './producer-state.js';
import { writeBaseOffset, type BatchHeader } from './record-batch-header.js';
import { validateProducedEntry } from './record-batch-validation.js';
import { Segment } from './segment.js';
import { findBatchByTimestamp, readBatchesFrom, segmentHolding } from './segment-reader.js';
import type {
  AppendOptions,
  AppendResult,
  PartitionLog,
  ReadResult,
  StoreLogger,
  TopicConfig,
} from './store.js';

const MAX_RELATIVE_OFFSET = 0xffff_ffff;
const EMPTY = Buffer.alloc(0);

export interface PartitionRuntime {
  /** The topic's current config (read at every append). */
  readonly config: () => TopicConfig;
  readonly indexIntervalBytes: number;
  readonly flushIntervalMs: number;
  readonly logger: StoreLogger;
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
  /** Rolled segments whose flush, index and snapshot are still being written. */
  private readonly closing = new Set<Segment>();
  readonly compactionState: CompactionState = {
    cleanedThroughOffset: -1,
    tombstoneDeadlineMs: Number.POSITIVE_INFINITY,
  };
  private readonly flusher: FlushScheduler;
  private readonly waiters = new HighWatermarkWaiters();
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
    if (this.durableOffset > offset || this.closed || this.failure !== null)
      return Promise.resolve();
    return this.waiters.wait(offset, timeoutMs, signal);
  }

  async offsetForTimestamp(timestampMs: number): Promise<number | null> {
    this.assertOnline();
    const logStartOffset = this.logStartOffset();
    const found = await this.withSegmentsFrom(logStartOffset, (segment, limitBytes) =>
      findBatchByTimestamp(segment, timestampMs, limitBytes),
    );
    return found === null ? null : Math.max(found, logStartOffset);
  }

  /** Bytes of all segment files (index files are small and left out). */
  sizeBytes(): number {
    return this.segments.reduce((total, segment) => total + segment.sizeBytes, 0);
  }

  get indexIntervalBytes(): number {
    return this.runtime.indexIntervalBytes;
  }

  /**
   * Closed segments wholly below the high watermark whose index is written: what retention
   * and compaction may touch.
   */
  settledSegments(): readonly Segment[] {
    return this.segments.filter(
      (segment) =>
        segment !== this.active &&
        segment.nextOffset <= this.durableOffset &&
        !this.closing.has(segment),
    );
  }

  /**
   * Runs retention or compaction work; close and deletion wait for it. Skipped (resolving
   * undefined) once the partition is closed or offline.
   */
  async maintain<T>(work: () => Promise<T>): Promise<T | undefined> {
    if (this.closed || this.failure !== null) return undefined;
    const task = work();
    const tracked = task.then(
      () => undefined,
      () => undefined,
    );
    this.background.add(tracked);
    try {
      return await task;
    } finally {
      this.background.delete(tracked);
    }
  }

  /**
   * Removes closed segments (retention, or compaction leaving nothing): out of the log first,
   * then their files, oldest first and durably, so a crash leaves a contiguous suffix.
   */
  async dropSegments(doomed: readonly Segment[]): Promise<void> {
    const removing = new Set(doomed.filter((segment) => segment !== this.active));
    if (removing.size === 0) return;
    this.segments = this.segments.filter((segment) => !removing.has(segment));
    for (const segment of removing) {
      await unlinkDurably(this.directory, [
        path.basename(segment.logPath),
        path.basename(segment.indexPath),
      ]);
      await segment.retire();
    }
  }

  /** Swaps a closed segment for its rewritten version (already renamed into place). */
  async replaceSegment(old: Segment, replacement: Segment): Promise<void> {
    if (this.closed) {
      await replacement.retire();
      return;
    }
    this.segments = this.segments.map((segment) => (segment === old ? replacement : segment));
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
        await writeProducerSnapshot(
          this.directory,
          this.active.nextOffset,
          this.producers.serialize(this.active.nextOffset),
        );
      }
    } finally {
      this.waiters.wakeAll();
      await Promise.all(this.segments.map((segment) => segment.retire()));
    }
    // An offline partition must not let the store record a clean shutdown.
    if (this.failure !== null) throw this.failure;
  }

  /** Closes without flushing or writing anything (the partition is being deleted). */
  async abandon(): Promise<void> {
    this.closed = true;
    this.flusher.cancelTimer();
    await this.appendChain;
    await Promise.allSettled([...this.background]);
    this.waiters.wakeAll();
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
    if (this.mustRoll(entry.length, headers, config)) await this.roll();
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

  /**
   * Size, relative-offset room, and segment.ms the way Kafka measures it: the entry's newest
   * timestamp against the segment's first batch (client clocks, not the broker's).
   */
  private mustRoll(
    entryBytes: number,
    headers: readonly BatchHeader[],
    config: TopicConfig,
  ): boolean {
    const active = this.active;
    if (active.sizeBytes === 0) return false;
    const recordOffsets = headers.reduce((total, header) => total + header.lastOffsetDelta + 1, 0);
    const newestTimestampMs = Math.max(...headers.map((header) => header.maxTimestamp));
    return (
      active.sizeBytes + entryBytes > config.segmentBytes ||
      active.nextOffset + recordOffsets - active.baseOffset > MAX_RELATIVE_OFFSET ||
      (active.firstBatchTimestampMs >= 0 &&
        newestTimestampMs - active.firstBatchTimestampMs >= config.segmentMs)
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
    this.closing.add(closing);
    const task = (async () => {
      await this.flusher.flushNow();
      await closing.writeIndex();
      await writeProducerSnapshot(this.directory, closing.nextOffset, snapshot);
      this.closing.delete(closing);
    })().catch((error: unknown) => {
      if (!this.closed) this.fail('segment close', error);
    });
    this.background.add(task);
    void task.finally(() => this.background.delete(task));
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
    this.waiters.advance(endOffset);
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
          ? segmentHolding(segments, offset)
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
      this.waiters.wakeAll();
    }
    return this.failure;
  }

  private label(): string {
    return `${this.topic}-${this.partition}`;
  }
}
