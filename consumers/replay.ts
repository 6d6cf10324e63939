/**
 * The replay engine: one consumer group per target, replaying the extents topics of the
 * feeds it follows into the target.
 *
 * - Order per disk, parallelism across disks: a batch's records are grouped by disk (RxJS
 *   `groupBy`); each disk applies its records one after another (`concatMap`) while disks
 *   run side by side (`mergeMap`). kafkajs does not fetch a partition again until its batch
 *   is handled, so a slow target holds back its partitions instead of buffering records:
 *   memory is bounded by the fetch size.
 * - Offsets: a partition's committed offset never passes a record whose effects are not
 *   durable (every disk of the partition is flushed first) nor a record of a stopped disk.
 *   The commit's metadata holds the offset of the oldest open epoch's SyncBegin; after a
 *   restart the engine rewinds there and re-reads up to the committed offset without
 *   applying, so the epoch digest still covers every extent of the epoch (roll forward).
 * - A disk that fails a check stops alone and shows in status; its partition is paused
 *   when no other disk in it can progress. Retriable failures are retried from the
 *   committed offset after a back-off.
 */
import {
  BehaviorSubject,
  from,
  groupBy,
  lastValueFrom,
  mergeMap,
  concatMap,
  toArray,
  type Observable,
} from 'rxjs';
import type { Logger } from 'pino';
import type {
  ConsumedBatch,
  ConsumedMessage,
  LogClient,
  LogConsumer,
  TopicPartition,
} from '../log/log-client.js';
import type { ExtentlogRecord } from '../schemas/extentlog-record.js';
import type { RestorePoint } from '../schemas/restore-point.js';
import { DiskReplay, type DiskReplayStatus } from './disk-replay.js';
import type { RestorePointWriter } from './restore-points.js';
import type { Target } from './target.js';

export interface ReplayFeed {
  readonly feed: string;
  readonly topic: string;
}

export interface ReplayOptions {
  readonly targetName: string;
  readonly target: Target;
  readonly log: LogClient;
  readonly decoder: { decode(frame: Buffer): Promise<ExtentlogRecord> };
  readonly feeds: readonly ReplayFeed[];
  readonly groupId: string;
  /** How long the group keeps a crashed member's partitions (and a restart waits to rejoin). */
  readonly sessionTimeoutMs?: number;
  readonly restorePoints: RestorePointWriter;
  /** The latest restore point per `<target>/<feed>/<disk>`, read before starting. */
  readonly lastRestorePoints: ReadonlyMap<string, RestorePoint>;
  /** Asks a feed for a FULL epoch of a disk (history expired, no base). */
  readonly requestRebaseline: (feed: string, diskId: string, reason: string) => void;
  /** How often pending writes are made durable and offsets committed mid-epoch. */
  readonly flushIntervalMs: number;
  /** First back-off before a disk stopped by a retriable error is retried (doubles, up to 1 min). */
  readonly retryBackoffMs?: number;
  readonly logger: Logger;
  readonly now?: () => number;
}

export interface PartitionStatus {
  readonly topic: string;
  readonly partition: number;
  readonly nextOffset: number;
  readonly committedOffset: number | null;
  readonly highWatermark: number;
  readonly paused: boolean;
}

/** A disk's replay status with the partition its records come from. */
export type ReplayDiskStatus = DiskReplayStatus & {
  readonly topic: string;
  readonly partition: number;
};

export interface ReplayStatus {
  readonly target: string;
  readonly targetKind: string;
  readonly groupId: string;
  readonly paused: boolean;
  readonly partitions: readonly PartitionStatus[];
  readonly disks: readonly ReplayDiskStatus[];
}

export interface Replay {
  readonly status$: Observable<ReplayStatus>;
  status(): ReplayStatus;
  start(): Promise<void>;
  pause(): void;
  resume(): void;
  stop(): Promise<void>;
}

const TOPIC_POLL_MS = 500;

interface RewindMetadata {
  readonly v: 1;
  /** Offset of the oldest open epoch's SyncBegin in the partition. */
  readonly rewind: number;
}

function parseMetadata(metadata: string | null): RewindMetadata | null {
  if (metadata === null || metadata === '') return null;
  try {
    const parsed = JSON.parse(metadata) as Partial<RewindMetadata>;
    return parsed.v === 1 && Number.isSafeInteger(parsed.rewind)
      ? (parsed as RewindMetadata)
      : null;
  } catch {
    return null;
  }
}

class PartitionState {
  readonly disks = new Map<string, DiskReplay>();
  nextOffset: number;
  committedOffset: number | null;
  /** Records below this offset were applied and made durable before a restart. */
  durableBelow: number;
  highWatermark = 0;
  paused = false;
  /** Serialises batch handling, checkpoints and restarts of this partition. */
  chain: Promise<void> = Promise.resolve();
  lastCheckpointMs = 0;
  committedMetadata: string | null = null;
  retryTimer: NodeJS.Timeout | null = null;
  retryBackoffMs: number;

  constructor(
    readonly topic: string,
    readonly partition: number,
    readonly feed: string,
    start: { nextOffset: number; committedOffset: number | null; durableBelow: number },
    retryBackoffMs: number,
  ) {
    this.nextOffset = start.nextOffset;
    this.committedOffset = start.committedOffset;
    this.durableBelow = start.durableBelow;
    this.retryBackoffMs = retryBackoffMs;
  }

  run<T>(work: () => Promise<T>): Promise<T> {
    const result = this.chain.then(work);
    this.chain = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }
}

class ReplayEngine implements Replay {
  readonly #options: ReplayOptions;
  readonly #now: () => number;
  readonly #partitions = new Map<string, PartitionState>();
  readonly #status$: BehaviorSubject<ReplayStatus>;
  readonly status$: Observable<ReplayStatus>;
  readonly #feedOfTopic: Map<string, string>;
  readonly #restorePoints: Map<string, RestorePoint>;
  #consumer: LogConsumer | null = null;
  #timer: NodeJS.Timeout | null = null;
  #paused = false;
  #stopping = false;
  #starting: Promise<void> = Promise.resolve();

  constructor(options: ReplayOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.#restorePoints = new Map(options.lastRestorePoints);
    this.#feedOfTopic = new Map(options.feeds.map(({ feed, topic }) => [topic, feed]));
    this.#status$ = new BehaviorSubject(this.status());
    this.status$ = this.#status$.asObservable();
  }

  status(): ReplayStatus {
    const partitions = [...(this.#partitions?.values() ?? [])];
    return {
      target: this.#options.targetName,
      targetKind: this.#options.target.kind,
      groupId: this.#options.groupId,
      paused: this.#paused,
      partitions: partitions.map((state) => ({
        topic: state.topic,
        partition: state.partition,
        nextOffset: state.nextOffset,
        committedOffset: state.committedOffset,
        highWatermark: state.highWatermark,
        paused: state.paused,
      })),
      disks: partitions.flatMap((state) =>
        [...state.disks.values()].map((disk) => ({
          ...disk.status(),
          topic: state.topic,
          partition: state.partition,
        })),
      ),
    };
  }

  #publishStatus(): void {
    this.#status$.next(this.status());
  }

  async start(): Promise<void> {
    if ((await this.#topicsMissing()).length > 0) {
      // Subscribing to a topic that does not exist fails: wait for the feeds in the background.
      this.#starting = this.#topicsCreated()
        .then(() => (this.#stopping ? undefined : this.#subscribe()))
        .catch((error: unknown) =>
          this.#options.logger.error(
            { target: this.#options.targetName, err: error },
            'replay could not start',
          ),
        );
      return;
    }
    await this.#subscribe();
  }

  async #subscribe(): Promise<void> {
    const { log, feeds, groupId } = this.#options;
    this.#consumer = await log.consumer({
      groupId,
      topics: feeds.map(({ topic }) => topic),
      fromBeginning: true,
      ...(this.#options.sessionTimeoutMs === undefined
        ? {}
        : { sessionTimeoutMs: this.#options.sessionTimeoutMs }),
    });
    this.#timer = setInterval(
      () => void this.#checkpointAll(false),
      Math.max(50, this.#options.flushIntervalMs),
    );
    this.#timer.unref();
    await this.#consumer.run({
      onBatch: (batch) => this.#onBatch(batch),
      onRevoked: (partitions) => this.#onRevoked(partitions),
    });
  }

  /**
   * A feed creates its topic when it first starts; a target process started before it
   * waits for the topic instead of failing to subscribe.
   */
  async #topicsMissing(): Promise<string[]> {
    const existing = new Set(await this.#options.log.admin.listTopics());
    return this.#options.feeds.map(({ topic }) => topic).filter((topic) => !existing.has(topic));
  }

  async #topicsCreated(): Promise<void> {
    this.#options.logger.info(
      { target: this.#options.targetName, topics: await this.#topicsMissing() },
      'waiting for the feeds to create their topics',
    );
    while (!this.#stopping && (await this.#topicsMissing()).length > 0)
      await new Promise((resolve) => setTimeout(resolve, TOPIC_POLL_MS));
  }

  pause(): void {
    this.#paused = true;
    const assigned = [...this.#partitions.values()].map(({ topic, partition }) => ({
      topic,
      partition,
    }));
    this.#consumer?.pause(assigned);
    this.#publishStatus();
  }

  resume(): void {
    this.#paused = false;
    for (const state of this.#partitions.values()) {
      if (this.#stoppedDisks(state).length > 0)
        void this.#restartPartition(state, 'resumed by the operator');
      else this.#consumer?.resume([{ topic: state.topic, partition: state.partition }]);
    }
    this.#publishStatus();
  }

  async stop(): Promise<void> {
    this.#stopping = true;
    await this.#starting;
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
    await this.#checkpointAll(true).catch((error: unknown) =>
      this.#options.logger.warn({ err: error }, 'final checkpoint failed'),
    );
    await this.#consumer?.stop();
    this.#consumer = null;
    for (const state of this.#partitions.values()) {
      if (state.retryTimer !== null) clearTimeout(state.retryTimer);
      for (const disk of state.disks.values()) await disk.close().catch(() => undefined);
    }
    this.#partitions.clear();
    this.#publishStatus();
    this.#status$.complete();
  }

  async #partitionState(
    topic: string,
    partition: number,
  ): Promise<{ state: PartitionState; rewindTo: number | null }> {
    const key = `${topic}\u0000${partition}`;
    const existing = this.#partitions.get(key);
    if (existing !== undefined) return { state: existing, rewindTo: null };
    const offsets = await this.#options.log.admin.groupOffsets(this.#options.groupId, topic);
    const committed = offsets.partitions.find((entry) => entry.partition === partition);
    const committedOffset =
      committed !== undefined && committed.offset >= 0 ? committed.offset : null;
    const metadata = parseMetadata(committed?.metadata ?? null);
    const rewind =
      committedOffset !== null && metadata !== null && metadata.rewind < committedOffset
        ? metadata.rewind
        : null;
    const feed = this.#feedOfTopic.get(topic) ?? topic;
    const state = new PartitionState(
      topic,
      partition,
      feed,
      {
        nextOffset: rewind ?? committedOffset ?? 0,
        committedOffset,
        durableBelow: committedOffset ?? 0,
      },
      this.#options.retryBackoffMs ?? 1000,
    );
    state.committedMetadata = committed?.metadata ?? null;
    this.#partitions.set(key, state);
    return { state, rewindTo: rewind };
  }

  #disk(state: PartitionState, diskId: string): DiskReplay {
    let disk = state.disks.get(diskId);
    if (disk === undefined) {
      const { targetName } = this.#options;
      disk = new DiskReplay({
        targetName,
        target: this.#options.target,
        feed: state.feed,
        diskId,
        lastRestorePoint: this.#restorePoints.get(`${targetName}/${state.feed}/${diskId}`) ?? null,
        publishRestorePoint: async (point) => {
          await this.#options.restorePoints.publish(point);
          // A disk rebuilt after a retry must start from the newest point, not the one read at start.
          this.#restorePoints.set(`${point.target}/${point.feed}/${point.disk}`, point);
        },
        requestRebaseline: (reason) => this.#options.requestRebaseline(state.feed, diskId, reason),
        logger: this.#options.logger,
        now: this.#now,
      });
      state.disks.set(diskId, disk);
    }
    return disk;
  }

  async #onBatch(batch: ConsumedBatch): Promise<void> {
    const { state, rewindTo } = await this.#partitionState(batch.topic, batch.partition);
    if (rewindTo !== null) {
      this.#options.logger.info(
        {
          target: this.#options.targetName,
          topic: batch.topic,
          partition: batch.partition,
          rewindTo,
          committed: state.committedOffset,
        },
        'rewinding to the open epoch',
      );
      this.#consumer?.seek({ topic: batch.topic, partition: batch.partition, offset: rewindTo });
      return;
    }
    await state.run(() => this.#apply(state, batch));
  }

  async #apply(state: PartitionState, batch: ConsumedBatch): Promise<void> {
    const messages = batch.messages.filter((message) => message.offset >= state.nextOffset);
    if (messages.length === 0) return;
    // Offsets of an extents topic are contiguous (no compaction, no transactions): a jump
    // means the consumer was reset past records that retention deleted.
    const first = messages[0]!.offset;
    if (first > state.nextOffset)
      for (const disk of state.disks.values()) disk.historyLost(state.nextOffset, first);
    let sealed = false;
    await lastValueFrom(
      from(messages).pipe(
        groupBy((message) => message.key?.toString('utf8') ?? ''),
        mergeMap((disk$) =>
          disk$.pipe(
            concatMap(async (message) => {
              const disk = this.#disk(state, disk$.key);
              const record = await this.#decode(disk, message);
              if (record === null) return;
              await disk.process(record, message.offset, message.offset < state.durableBelow);
              if (record.type === 'sync-commit') sealed = true;
            }),
          ),
        ),
        toArray(),
      ),
    );
    state.nextOffset = messages[messages.length - 1]!.offset + 1;
    state.highWatermark = batch.highWatermark;
    const stopped = this.#stoppedDisks(state);
    if (stopped.length > 0) this.#onStopped(state, stopped);
    if (sealed || this.#now() - state.lastCheckpointMs >= this.#options.flushIntervalMs)
      await this.#checkpoint(state);
    this.#publishStatus();
  }

  async #decode(disk: DiskReplay, message: ConsumedMessage): Promise<ExtentlogRecord | null> {
    if (message.value === null || disk.stopped !== null) return null;
    try {
      return await this.#options.decoder.decode(message.value);
    } catch (error) {
      // The record cannot be read: stop its disk here, like any other bad record.
      disk.undecodable(error, message.offset);
      return null;
    }
  }

  #stoppedDisks(state: PartitionState): DiskReplay[] {
    return [...state.disks.values()].filter((disk) => disk.stopped !== null);
  }

  #onStopped(state: PartitionState, stopped: DiskReplay[]): void {
    const everyDiskStopped = stopped.length === state.disks.size;
    if (everyDiskStopped && !state.paused) {
      state.paused = true;
      this.#consumer?.pause([{ topic: state.topic, partition: state.partition }]);
    }
    if (stopped.every((disk) => disk.stopped!.retriable) && state.retryTimer === null) {
      const delayMs = state.retryBackoffMs;
      state.retryBackoffMs = Math.min(60_000, delayMs * 2);
      state.retryTimer = setTimeout(() => {
        state.retryTimer = null;
        void this.#restartPartition(state, `retry after ${delayMs} ms`);
      }, delayMs);
      state.retryTimer.unref();
    }
  }

  /** Starts a partition over from its committed offset (and open-epoch rewind). */
  async #restartPartition(state: PartitionState, why: string): Promise<void> {
    await state.run(async () => {
      this.#options.logger.info(
        { target: this.#options.targetName, topic: state.topic, partition: state.partition, why },
        'restarting partition replay',
      );
      for (const disk of state.disks.values()) await disk.close().catch(() => undefined);
      this.#partitions.delete(`${state.topic}\u0000${state.partition}`);
      const { state: fresh, rewindTo } = await this.#partitionState(state.topic, state.partition);
      fresh.retryBackoffMs = state.retryBackoffMs;
      this.#consumer?.seek({
        topic: state.topic,
        partition: state.partition,
        offset: rewindTo ?? fresh.nextOffset,
      });
      if (!this.#paused)
        this.#consumer?.resume([{ topic: state.topic, partition: state.partition }]);
    });
    this.#publishStatus();
  }

  async #checkpointAll(final: boolean): Promise<void> {
    await Promise.all(
      [...this.#partitions.values()].map((state) =>
        state
          .run(() => this.#checkpoint(state))
          .catch((error: unknown) => {
            this.#options.logger.warn(
              { err: error, topic: state.topic, partition: state.partition, final },
              'checkpoint failed',
            );
          }),
      ),
    );
  }

  /** Flushes every disk of the partition, then commits the highest offset that is safe. */
  async #checkpoint(state: PartitionState): Promise<void> {
    state.lastCheckpointMs = this.#now();
    let safe = state.nextOffset;
    let rewind: number | null = null;
    for (const disk of state.disks.values()) {
      if (disk.stopped !== null) {
        const at = disk.stopped.details.offset;
        if (typeof at === 'number') safe = Math.min(safe, at);
      } else {
        await disk.flush();
      }
      const open = disk.openEpochOffset;
      if (open !== null) rewind = Math.min(rewind ?? open, open);
    }
    if (state.committedOffset !== null && safe <= state.committedOffset && rewind === null) return;
    const metadata =
      rewind === null || rewind >= safe
        ? ''
        : JSON.stringify({ v: 1, rewind } satisfies RewindMetadata);
    if (safe === state.committedOffset && metadata === (state.committedMetadata ?? '')) return;
    if (state.committedOffset !== null && safe < state.committedOffset) return;
    await this.#consumer?.commit([
      { topic: state.topic, partition: state.partition, offset: safe, metadata },
    ]);
    state.committedOffset = safe;
    state.committedMetadata = metadata;
    state.durableBelow = Math.max(state.durableBelow, safe);
  }

  async #onRevoked(partitions: readonly TopicPartition[]): Promise<void> {
    for (const { topic, partition } of partitions) {
      const key = `${topic}\u0000${partition}`;
      const state = this.#partitions.get(key);
      if (state === undefined) continue;
      await state.run(async () => {
        await this.#checkpoint(state).catch(() => undefined);
        for (const disk of state.disks.values()) await disk.close().catch(() => undefined);
      });
      if (state.retryTimer !== null) clearTimeout(state.retryTimer);
      this.#partitions.delete(key);
    }
    this.#publishStatus();
  }
}

export function createReplay(options: ReplayOptions): Replay {
  return new ReplayEngine(options);
}
