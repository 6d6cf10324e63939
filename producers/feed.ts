/**
 * The feed runtime: runs sync cycles of every disk of one source into the feed's topic
 * `<prefix>.<feed>.extents` — the first FULL, then INCREMENTAL, on a schedule or on demand
 * — and heartbeats in between so that lag stays measurable when nothing changes.
 *
 * Each disk has its own worker, partition and idempotent producer; disks sync in parallel
 * up to `diskConcurrency`. A worker reads its position back from the log when it starts and
 * after every failure (the log is the source of truth; no private state file), so a crash,
 * a failed produce or an aborted cycle always resumes from what the log really holds.
 */
import { BehaviorSubject, type Observable } from 'rxjs';
import type { Logger } from 'pino';
import type { LogClient, LogProducer, TopicSpec } from '../log/log-client.js';
import type { ExtentlogRecord } from '../schemas/extentlog-record.js';
import { describeError, ExtentlogError } from '../errors/extentlog-error.js';
import { assignPartitions } from './feed-partitions.js';
import { RangeSet } from './range-set.js';
import { readDiskPosition, type DiskPosition, type RecordDecoder } from './feed-position.js';
import type { ChangeSet, ChangeSource, CommittedReference, DiskInfo } from './source.js';
import {
  runSyncCycle,
  type CycleLimits,
  type CycleProgress,
  type CycleResult,
} from './sync-cycle.js';

export interface FeedCodec extends RecordDecoder {
  encode(record: ExtentlogRecord): Buffer;
}

export interface FeedOptions {
  readonly name: string;
  readonly topic: string;
  readonly source: ChangeSource;
  readonly log: LogClient;
  readonly codec: FeedCodec;
  readonly logger: Logger;
  /** Time between the starts of scheduled cycles; null: only on demand. */
  readonly intervalMs: number | null;
  readonly heartbeatIntervalMs: number;
  readonly limits: CycleLimits;
  readonly maxInFlightBytes: number;
  /** Largest batch per request; the topic's max.message.bytes must exceed it. */
  readonly maxBatchBytes: number;
  readonly diskConcurrency: number;
  /** Settings of the topic when the feed creates it. */
  readonly topicSpec: Omit<TopicSpec, 'topic' | 'partitions'>;
  readonly now?: () => number;
}

/** A cycle that ran to its end, as the status shows it. */
export type FinishedCycle = CycleResult & {
  readonly startedAtMs: number;
  readonly durationMs: number;
};

/** How many finished cycles a disk's status keeps (change maps, change rate). */
export const RECENT_CYCLES = 8;

export interface PublishedTotals {
  readonly extentRecords: number;
  readonly dataBytes: number;
  readonly zeroBytes: number;
  readonly heartbeats: number;
}

export type DiskPhase = 'starting' | 'idle' | 'syncing' | 'failed' | 'paused' | 'stopped';

export interface DiskStatus {
  readonly diskId: string;
  readonly partition: number | null;
  readonly phase: DiskPhase;
  readonly sizeBytes: number;
  readonly currentEpoch: number | null;
  readonly lastCommittedEpoch: number | null;
  readonly lastCommittedAtMs: number | null;
  readonly progress: CycleProgress | null;
  readonly lastCycle: FinishedCycle | null;
  /** The last `RECENT_CYCLES` finished cycles, oldest first. */
  readonly recentCycles: readonly FinishedCycle[];
  /** What this disk published since the feed started (cycles that ran to their end, heartbeats). */
  readonly published: PublishedTotals;
  readonly lastError: { code: string; message: string; atMs: number } | null;
  readonly rebaselineRequested: string | null;
}

export interface FeedStatus {
  readonly feed: string;
  readonly topic: string;
  readonly sourceKind: string;
  /** Paused by the operator: no cycle starts (a running one finishes) and no heartbeats. */
  readonly paused: boolean;
  readonly disks: readonly DiskStatus[];
}

export interface Feed {
  readonly name: string;
  readonly status$: Observable<FeedStatus>;
  status(): FeedStatus;
  start(): Promise<void>;
  /** Runs a cycle of the given disks (all when omitted) now and resolves with their results. */
  syncNow(diskIds?: readonly string[]): Promise<CycleResult[]>;
  /** The next cycle of the disk is FULL, with this reason in its SyncBegin. */
  requestRebaseline(diskId: string, reason: string): void;
  pause(): void;
  resume(): void;
  stop(): Promise<void>;
}

class Semaphore {
  #free: number;
  readonly #waiting: (() => void)[] = [];
  constructor(count: number) {
    this.#free = count;
  }
  async use<T>(work: () => Promise<T>): Promise<T> {
    if (this.#free > 0) this.#free -= 1;
    else await new Promise<void>((resolve) => this.#waiting.push(resolve));
    try {
      return await work();
    } finally {
      const next = this.#waiting.shift();
      if (next) next();
      else this.#free += 1;
    }
  }
}

interface PendingCycle {
  resolve(result: CycleResult): void;
  reject(error: unknown): void;
}

class DiskWorker {
  status: DiskStatus;
  #position: DiskPosition | null = null;
  #producer: LogProducer | null = null;
  #rebaseline: string | null = null;
  #waiters: PendingCycle[] = [];
  #running: Promise<void> | null = null;
  #heartbeat: NodeJS.Timeout | null = null;
  /** The change set of the cycle running now (a CONTINUOUS one is ended on stop). */
  #changeSet: ChangeSet | null = null;

  constructor(
    readonly disk: DiskInfo,
    readonly partition: number,
    private readonly feed: FeedRuntime,
  ) {
    this.status = {
      diskId: disk.diskId,
      partition,
      phase: 'starting',
      sizeBytes: disk.sizeBytes,
      currentEpoch: null,
      lastCommittedEpoch: null,
      lastCommittedAtMs: null,
      progress: null,
      lastCycle: null,
      recentCycles: [],
      published: { extentRecords: 0, dataBytes: 0, zeroBytes: 0, heartbeats: 0 },
      lastError: null,
      rebaselineRequested: null,
    };
  }

  update(change: Partial<DiskStatus>): void {
    this.status = { ...this.status, ...change };
    this.feed.publishStatus();
  }

  requestRebaseline(reason: string): void {
    this.#rebaseline = reason;
    this.update({ rebaselineRequested: reason });
  }

  /** Queues a cycle (coalescing with one already queued) and resolves with its result. */
  trigger(): Promise<CycleResult> {
    const result = new Promise<CycleResult>((resolve, reject) =>
      this.#waiters.push({ resolve, reject }),
    );
    this.#kick();
    return result;
  }

  #kick(): void {
    if (
      this.#running !== null ||
      this.#waiters.length === 0 ||
      this.feed.paused ||
      this.feed.stopping
    )
      return;
    const waiters = this.#waiters.splice(0);
    this.#running = this.feed.diskSlots
      .use(() => this.#cycle())
      .then(
        (result) => waiters.forEach((waiter) => waiter.resolve(result)),
        (error: unknown) => waiters.forEach((waiter) => waiter.reject(error)),
      )
      .finally(() => {
        this.#running = null;
        this.#kick();
      });
  }

  resumeQueued(): void {
    this.#kick();
  }

  async #ensurePosition(): Promise<DiskPosition> {
    if (this.#position === null) {
      this.#position = await readDiskPosition({
        log: this.feed.options.log,
        decoder: this.feed.options.codec,
        topic: this.feed.options.topic,
        partition: this.partition,
        diskId: this.disk.diskId,
      });
      this.update({
        lastCommittedEpoch: this.#position.committed?.epoch ?? null,
        lastCommittedAtMs: this.#position.committed?.committedAtMs ?? null,
      });
    }
    return this.#position;
  }

  async #ensureProducer(): Promise<LogProducer> {
    this.#producer ??= await this.feed.options.log.producer({
      maxInFlightBytes: this.feed.options.maxInFlightBytes,
      maxBatchBytes: this.feed.options.maxBatchBytes,
    });
    return this.#producer;
  }

  /** Forgets everything cached from the log: the next use re-reads it. */
  async #reset(): Promise<void> {
    this.#position = null;
    const producer = this.#producer;
    this.#producer = null;
    await producer?.close().catch(() => undefined);
  }

  async #cycle(): Promise<CycleResult> {
    const { options } = this.feed;
    const now = this.feed.now;
    const startedAtMs = now();
    this.#stopHeartbeat();
    let changeSet: ChangeSet | null = null;
    try {
      const position = await this.#ensurePosition();
      const producer = await this.#ensureProducer();
      let reason = this.#rebaseline;
      if (reason === null && position.uncommitted.full) {
        reason = `epoch ${position.uncommitted.epochs.join(', ')} was a FULL sync that did not commit`;
      }
      const since: CommittedReference | null =
        reason === null && position.committed !== null
          ? { epoch: position.committed.epoch, reference: position.committed.reference }
          : null;
      changeSet = await options.source.open(this.disk, since);
      this.#changeSet = changeSet;
      if (this.feed.stopping) changeSet.end?.();
      this.update({ phase: 'syncing', currentEpoch: position.nextEpoch, progress: null });
      options.logger.info(
        {
          feed: options.name,
          disk: this.disk.diskId,
          epoch: position.nextEpoch,
          mode: changeSet.mode,
          reason: reason ?? changeSet.rebaselineReason,
        },
        'sync cycle started',
      );
      const result = await runSyncCycle({
        feed: options.name,
        topic: options.topic,
        position,
        changeSet,
        producer,
        encode: (record) => options.codec.encode(record),
        limits: options.limits,
        now,
        onProgress: (progress) => {
          this.status = { ...this.status, progress };
          this.feed.publishStatus(true);
        },
        ...(reason === null ? {} : { rebaselineReason: reason }),
      });
      changeSet = null;
      if (this.#rebaseline === reason) this.#rebaseline = null;
      const lastEpoch = result.committed?.epoch ?? position.committed?.epoch ?? null;
      this.#position =
        result.committed === null
          ? null // an uncommitted tail: read the exact position back from the log
          : {
              partition: this.partition,
              nextSeq: result.nextSeq,
              nextEpoch: Math.max(...result.epochs) + 1,
              committed: result.committed,
              uncommitted: { full: false, ranges: new RangeSet(), epochs: [] },
            };
      const durationMs = now() - startedAtMs;
      const finished: FinishedCycle = { ...result, startedAtMs, durationMs };
      const published = this.status.published;
      this.update({
        phase: this.feed.paused ? 'paused' : 'idle',
        currentEpoch: null,
        progress: null,
        lastCommittedEpoch: lastEpoch,
        lastCommittedAtMs: result.committed?.committedAtMs ?? this.status.lastCommittedAtMs,
        lastCycle: finished,
        recentCycles: [...this.status.recentCycles, finished].slice(-RECENT_CYCLES),
        published: {
          ...published,
          extentRecords: published.extentRecords + result.extentRecords,
          dataBytes: published.dataBytes + result.dataBytes,
          zeroBytes: published.zeroBytes + result.zeroBytes,
        },
        lastError: null,
        rebaselineRequested: this.#rebaseline,
      });
      options.logger.info(
        {
          feed: options.name,
          disk: this.disk.diskId,
          epochs: result.epochs,
          mode: result.mode,
          records: result.extentRecords,
          dataBytes: result.dataBytes,
          durationMs,
        },
        'sync cycle committed',
      );
      return result;
    } catch (error) {
      await changeSet?.abort(error).catch(() => undefined);
      await this.#reset();
      const code = error instanceof ExtentlogError ? error.code : 'EXTENTLOG_ERR_SOURCE_UNEXPECTED';
      this.update({
        phase: 'failed',
        currentEpoch: null,
        progress: null,
        lastError: { code, message: describeError(error), atMs: now() },
      });
      options.logger.error(
        { feed: options.name, disk: this.disk.diskId, err: error },
        'sync cycle failed',
      );
      throw error;
    } finally {
      this.#changeSet = null;
      this.#startHeartbeat();
    }
  }

  #startHeartbeat(): void {
    const { heartbeatIntervalMs } = this.feed.options;
    if (heartbeatIntervalMs <= 0 || this.feed.stopping) return;
    this.#stopHeartbeat();
    this.#heartbeat = setInterval(() => void this.#sendHeartbeat(), heartbeatIntervalMs);
    this.#heartbeat.unref();
  }

  #stopHeartbeat(): void {
    if (this.#heartbeat !== null) clearInterval(this.#heartbeat);
    this.#heartbeat = null;
  }

  async #sendHeartbeat(): Promise<void> {
    if (this.#running !== null || this.feed.paused || this.feed.stopping) return;
    const { options } = this.feed;
    this.#running = (async () => {
      try {
        const position = await this.#ensurePosition();
        const producer = await this.#ensureProducer();
        const committed = position.committed?.epoch ?? null;
        await producer.send(options.topic, this.partition, [
          {
            key: Buffer.from(this.disk.diskId),
            value: options.codec.encode({
              type: 'heartbeat',
              feed: options.name,
              disk: this.disk.diskId,
              epoch: committed ?? 0,
              seq: position.nextSeq,
              lastCommittedEpoch: committed,
              sentAtMs: this.feed.now(),
            }),
          },
        ]);
        this.#position = { ...position, nextSeq: position.nextSeq + 1 };
        const published = this.status.published;
        this.status = {
          ...this.status,
          published: { ...published, heartbeats: published.heartbeats + 1 },
        };
      } catch (error) {
        await this.#reset();
        options.logger.warn(
          { feed: options.name, disk: this.disk.diskId, err: error },
          'heartbeat failed',
        );
      }
    })().finally(() => {
      this.#running = null;
      this.#kick();
    });
  }

  async start(): Promise<void> {
    await this.#ensurePosition();
    this.update({ phase: 'idle' });
    this.#startHeartbeat();
  }

  async stop(): Promise<void> {
    this.#stopHeartbeat();
    this.#changeSet?.end?.();
    while (this.#running !== null) await this.#running.catch(() => undefined);
    for (const waiter of this.#waiters.splice(0))
      waiter.reject(new Error(`feed ${this.feed.options.name} stopped`));
    await this.#reset();
    this.update({ phase: 'stopped' });
  }
}

class FeedRuntime implements Feed {
  readonly name: string;
  readonly now: () => number;
  readonly diskSlots: Semaphore;
  readonly #status$: BehaviorSubject<FeedStatus>;
  readonly status$: Observable<FeedStatus>;
  #workers = new Map<string, DiskWorker>();
  #schedule: NodeJS.Timeout | null = null;
  #statusThrottle: NodeJS.Timeout | null = null;
  paused = false;
  stopping = false;

  constructor(readonly options: FeedOptions) {
    this.name = options.name;
    this.now = options.now ?? Date.now;
    this.diskSlots = new Semaphore(Math.max(1, options.diskConcurrency));
    this.#status$ = new BehaviorSubject<FeedStatus>(this.#snapshot());
    this.status$ = this.#status$.asObservable();
  }

  #snapshot(): FeedStatus {
    return {
      feed: this.name,
      topic: this.options.topic,
      sourceKind: this.options.source.kind,
      paused: this.paused,
      disks: [...this.#workers.values()].map((worker) => worker.status),
    };
  }

  status(): FeedStatus {
    return this.#snapshot();
  }

  /** Emits the status; progress updates (`throttled`) at most every 250 ms. */
  publishStatus(throttled = false): void {
    if (!throttled) {
      this.#status$.next(this.#snapshot());
      return;
    }
    if (this.#statusThrottle !== null) return;
    this.#statusThrottle = setTimeout(() => {
      this.#statusThrottle = null;
      this.#status$.next(this.#snapshot());
    }, 250);
    this.#statusThrottle.unref();
  }

  async start(): Promise<void> {
    const { log, source, topic, topicSpec } = this.options;
    const disks = await source.disks();
    const partitions = await assignPartitions({
      log,
      topic,
      diskIds: disks.map((disk) => disk.diskId),
      ensureTopic: (count) => log.admin.ensureTopic({ ...topicSpec, topic, partitions: count }),
    });
    for (const disk of disks) {
      this.#workers.set(disk.diskId, new DiskWorker(disk, partitions.get(disk.diskId)!, this));
    }
    await Promise.all([...this.#workers.values()].map((worker) => worker.start()));
    this.publishStatus();
    if (this.options.intervalMs !== null) {
      const tick = () => {
        for (const worker of this.#workers.values()) {
          worker.trigger().catch(() => undefined);
        }
      };
      tick();
      this.#schedule = setInterval(tick, this.options.intervalMs);
      this.#schedule.unref();
    }
  }

  async syncNow(diskIds?: readonly string[]): Promise<CycleResult[]> {
    const workers =
      diskIds === undefined ? [...this.#workers.values()] : diskIds.map((id) => this.#worker(id));
    return Promise.all(workers.map((worker) => worker.trigger()));
  }

  requestRebaseline(diskId: string, reason: string): void {
    this.#worker(diskId).requestRebaseline(reason);
  }

  #worker(diskId: string): DiskWorker {
    const worker = this.#workers.get(diskId);
    if (worker === undefined) {
      throw new RangeError(
        `feed ${this.name} has no disk '${diskId}'; its disks are ${[...this.#workers.keys()].join(', ')}`,
      );
    }
    return worker;
  }

  pause(): void {
    this.paused = true;
    for (const worker of this.#workers.values())
      if (worker.status.phase === 'idle') worker.update({ phase: 'paused' });
    this.publishStatus();
  }

  resume(): void {
    this.paused = false;
    for (const worker of this.#workers.values()) {
      if (worker.status.phase === 'paused') worker.update({ phase: 'idle' });
      worker.resumeQueued();
    }
    this.publishStatus();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    if (this.#schedule !== null) clearInterval(this.#schedule);
    await Promise.all([...this.#workers.values()].map((worker) => worker.stop()));
    await this.options.source.close();
    this.publishStatus();
    this.#status$.complete();
  }
}

export function createFeed(options: FeedOptions): Feed {
  return new FeedRuntime(options);
}
