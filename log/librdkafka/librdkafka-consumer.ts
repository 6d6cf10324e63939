/**
 * The log port's group consumer over librdkafka's KafkaConsumer: the Kafka group protocol
 * with eager rebalancing (range/roundrobin assignors, heartbeats on librdkafka's own
 * thread — KIP-62), manual commits with metadata, per-partition pause/resume and seek.
 *
 * One consume loop takes fetched messages from librdkafka's queue into a lane per
 * assigned partition. A lane hands what it holds to `onBatch` as one batch; while the
 * handler runs, the loop keeps taking the partition's messages into the lane, so fetching
 * overlaps handling. A slow handler holds its partition back instead of buffering records:
 *
 * - A lane that holds more than `LANE_MAX_BYTES` stops the loop until a lane hands its
 *   messages over. librdkafka's queue then fills up to `queued.max.messages.kbytes` and
 *   librdkafka stops fetching by itself, without dropping what it holds.
 * - A lane still full after `LANE_STALL_MS` (a target that hangs or retries) no longer
 *   holds the others back: its partition is paused in librdkafka, the loop goes on for the
 *   other partitions, and the partition resumes once its lane hands its messages over.
 *   Pausing is kept for this case only: librdkafka drops what it prefetched for a paused
 *   partition, and after a resume fetches it again only on its next timer tick (up to a
 *   second), which would stall a target that is merely slower than the log.
 *
 * Memory stays within `queued.max.messages.kbytes` plus, per partition, two lanes' worth.
 *
 *   consume loop ──► lane[t,0]: queue → batch → onBatch … resolved → next batch
 *                └─► lane[t,1]: …
 *
 * Seeks go through the consume loop, between two consume calls: what a consume call in
 * flight returns for the partition predates the seek and is dropped.
 */
import type { Logger } from 'pino';
import type {
  ConsumedBatch,
  ConsumedMessage,
  ConsumerHandlers,
  LogConsumer,
  LogHeaders,
  TopicPartition,
  TopicPartitionOffset,
} from '../log-client.js';
import type { QueueWake } from './consumer-queue.js';
import { CONSUME_IDLE_MS, Wake } from './consumer-queue.js';
import { toLogError } from './librdkafka-errors.js';
import type {
  RdkafkaConsumer,
  RdkafkaError,
  RdkafkaMessage,
  RdkafkaTopicPartition,
} from './rdkafka-api.js';

const ERR_ASSIGN_PARTITIONS = -175;
const RETRY_FIRST_MS = 500;
const RETRY_MAX_MS = 30_000;
/** Bytes a lane holds (fetched, not handed over) before the consume loop waits for it. */
export const LANE_MAX_BYTES = 16 * 1024 * 1024;
/** How long a full lane may hold the consume loop before its partition is paused instead. */
export const LANE_STALL_MS = 1000;

export function toHeaders(headers: RdkafkaMessage['headers']): LogHeaders {
  const result: Record<string, Buffer> = {};
  for (const header of headers ?? []) {
    for (const [name, value] of Object.entries(header)) {
      if (!(name in result)) result[name] = Buffer.isBuffer(value) ? value : Buffer.from(value);
    }
  }
  return result;
}

export function toConsumedMessage(message: RdkafkaMessage): ConsumedMessage {
  return {
    topic: message.topic,
    partition: message.partition,
    offset: message.offset,
    key: message.key ?? null,
    value: message.value,
    headers: toHeaders(message.headers),
    timestampMs: message.timestamp ?? 0,
  };
}

function keyOf({ topic, partition }: TopicPartition): string {
  return `${topic}\u0000${partition}`;
}

/** One assigned partition. */
interface Lane {
  readonly topic: string;
  readonly partition: number;
  /** Fetched, not yet handed to the handler. */
  queue: RdkafkaMessage[];
  queuedBytes: number;
  /** Offsets below it were handed over already (a resumed fetch may return them again). */
  nextOffset: number | null;
  handling: Promise<void> | null;
  /** Paused in librdkafka, by a full lane or by the user. */
  fetchPaused: boolean;
  /** A seek the consume loop has yet to make. */
  seekTo: number | null;
  revoked: boolean;
  retryDelayMs: number;
}

export interface LibrdkafkaConsumerOptions {
  readonly groupId: string;
  readonly topics: readonly string[];
  readonly logger: Logger;
  /** Shared with the KafkaConsumer's `queue_non_empty_cb` and `rebalance_cb`. */
  readonly wake: QueueWake;
}

export class LibrdkafkaConsumer implements LogConsumer {
  readonly #consumer: RdkafkaConsumer;
  readonly #options: LibrdkafkaConsumerOptions;
  readonly #lanes = new Map<string, Lane>();
  /** Paused by the user, assigned or not (a pause outlives a rebalance, as in kafkajs). */
  readonly #userPaused = new Set<string>();
  /** Seeks of partitions not assigned yet: applied as their assignment's start offsets. */
  readonly #pendingSeeks = new Map<string, number>();
  #handlers: ConsumerHandlers | null = null;
  #loop: Promise<void> | null = null;
  /** Wakes a consume loop waiting for a full lane to hand its messages over. */
  readonly #laneDrained = new Wake();
  #rebalancing: Promise<void> = Promise.resolve();
  #stopping = false;

  constructor(consumer: RdkafkaConsumer, options: LibrdkafkaConsumerOptions) {
    this.#consumer = consumer;
    this.#options = options;
  }

  /** For the KafkaConsumer's `rebalance_cb`: librdkafka waits for our assign/unassign. */
  onRebalance(error: RdkafkaError, partitions: RdkafkaTopicPartition[]): void {
    const assigned = error.code === ERR_ASSIGN_PARTITIONS;
    this.#rebalancing = this.#rebalancing
      .then(() => (assigned ? this.#assign(partitions) : this.#revoke(partitions)))
      .catch((failure: unknown) =>
        this.#options.logger.error(
          { err: failure, groupId: this.#options.groupId },
          'handling a rebalance failed',
        ),
      );
  }

  async run(handlers: ConsumerHandlers): Promise<void> {
    if (this.#handlers !== null) throw new Error('the consumer is already running');
    this.#handlers = handlers;
    try {
      this.#consumer.subscribe([...this.#options.topics]);
    } catch (error) {
      throw toLogError(
        error,
        `group ${this.#options.groupId} subscribing to ${this.#options.topics.join(', ')}`,
        'EXTENTLOG_ERR_LOG_CONSUME',
        { groupId: this.#options.groupId },
      );
    }
    this.#loop = this.#consumeLoop();
  }

  pause(partitions: readonly TopicPartition[]): void {
    for (const partition of partitions) {
      this.#userPaused.add(keyOf(partition));
      const lane = this.#lanes.get(keyOf(partition));
      if (lane !== undefined) this.#pauseFetch(lane);
    }
    // A paused lane no longer holds the consume loop.
    this.#laneDrained.signal();
  }

  resume(partitions: readonly TopicPartition[]): void {
    for (const partition of partitions) {
      this.#userPaused.delete(keyOf(partition));
      const lane = this.#lanes.get(keyOf(partition));
      if (lane === undefined) continue;
      if (lane.handling === null && lane.queue.length > 0) this.#dispatch(lane);
      else if (lane.queuedBytes <= LANE_MAX_BYTES) this.#resumeFetch(lane);
    }
  }

  seek(position: TopicPartitionOffset): void {
    const lane = this.#lanes.get(keyOf(position));
    if (lane === undefined) {
      this.#pendingSeeks.set(keyOf(position), position.offset);
      return;
    }
    lane.queue = [];
    lane.queuedBytes = 0;
    lane.nextOffset = position.offset;
    lane.seekTo = position.offset;
    this.#options.wake.signal();
    this.#laneDrained.signal();
  }

  async commit(offsets: readonly TopicPartitionOffset[]): Promise<void> {
    const list = offsets.map(({ topic, partition, offset, metadata }) => ({
      topic,
      partition,
      offset,
      ...(metadata === undefined || metadata === null ? {} : { metadata }),
    }));
    try {
      await new Promise<void>((resolve, reject) =>
        this.#consumer.commitCb(list, (error) => (error ? reject(error) : resolve())),
      );
    } catch (error) {
      // Also what the binding throws at once (a consumer already closed).
      throw toLogError(
        error,
        `group ${this.#options.groupId} committing offsets of ${offsets.map((entry) => `${entry.topic}[${entry.partition}]`).join(', ')}`,
        'EXTENTLOG_ERR_LOG_CONSUME',
        { groupId: this.#options.groupId },
      );
    }
  }

  async stop(): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    this.#options.wake.signal();
    this.#laneDrained.signal();
    await this.#loop;
    await Promise.all([...this.#lanes.values()].map((lane) => lane.handling));
    await this.#rebalancing;
    // Closing leaves the group; librdkafka revokes through rebalance_cb and waits for it.
    await new Promise<void>((resolve) => this.#consumer.disconnect(() => resolve()));
    await this.#rebalancing;
  }

  async #consumeLoop(): Promise<void> {
    const { wake, logger, groupId } = this.#options;
    while (!this.#stopping) {
      await this.#applySeeks();
      await this.#roomInLanes();
      if (this.#stopping) break;
      let messages: RdkafkaMessage[];
      try {
        messages = await wake.consume(this.#consumer);
      } catch (error) {
        // Consumer errors (a broker gone, a topic deleted) are reported and retried by librdkafka.
        logger.warn({ err: error, groupId }, 'consume reported an error');
        await wake.wait(CONSUME_IDLE_MS);
        continue;
      }
      if (messages.length === 0) {
        await wake.wait(CONSUME_IDLE_MS);
        continue;
      }
      const touched = new Set<Lane>();
      for (const message of messages) {
        const lane = this.#accept(message);
        if (lane !== null) touched.add(lane);
      }
      for (const lane of touched) this.#dispatch(lane);
    }
  }

  #accept(message: RdkafkaMessage): Lane | null {
    const lane = this.#lanes.get(keyOf(message));
    if (lane === undefined || lane.revoked || lane.seekTo !== null) return null;
    if (lane.nextOffset !== null && message.offset < lane.nextOffset) return null;
    lane.queue.push(message);
    lane.queuedBytes += (message.value?.length ?? 0) + (message.key?.length ?? 0);
    lane.nextOffset = message.offset + 1;
    return lane;
  }

  /** Lanes that hold too much and still fetch: the consume loop waits for them. */
  #fullLanes(): Lane[] {
    return [...this.#lanes.values()].filter(
      (lane) => !lane.revoked && !lane.fetchPaused && lane.queuedBytes > LANE_MAX_BYTES,
    );
  }

  /**
   * Waits until no fetching lane is full. Lanes still full after `LANE_STALL_MS` are
   * paused in librdkafka, so that one stuck partition does not hold back the others.
   */
  async #roomInLanes(): Promise<void> {
    const deadline = Date.now() + LANE_STALL_MS;
    for (;;) {
      this.#laneDrained.clear();
      const full = this.#fullLanes();
      if (full.length === 0 || this.#stopping) return;
      const leftMs = deadline - Date.now();
      if (leftMs <= 0) {
        for (const lane of full) this.#pauseFetch(lane);
        return;
      }
      await this.#laneDrained.wait(leftMs);
    }
  }

  async #applySeeks(): Promise<void> {
    for (const lane of this.#lanes.values()) {
      const offset = lane.seekTo;
      if (offset === null || lane.revoked) continue;
      try {
        await new Promise<void>((resolve, reject) =>
          this.#consumer.seek(
            { topic: lane.topic, partition: lane.partition, offset },
            1000,
            (error) => (error ? reject(error) : resolve()),
          ),
        );
        // A later seek() may have replaced the target while this one ran.
        if (lane.seekTo === offset) lane.seekTo = null;
      } catch (error) {
        this.#options.logger.warn(
          { err: error, topic: lane.topic, partition: lane.partition, offset },
          'seek failed; retrying',
        );
      }
    }
  }

  #dispatch(lane: Lane): void {
    if (lane.handling !== null || lane.revoked || this.#stopping || lane.queue.length === 0) return;
    if (this.#userPaused.has(keyOf(lane))) return;
    const messages = lane.queue;
    lane.queue = [];
    lane.queuedBytes = 0;
    this.#resumeFetch(lane);
    this.#laneDrained.signal();
    lane.handling = this.#handle(lane, messages).finally(() => {
      lane.handling = null;
      if (lane.revoked || this.#stopping) return;
      if (lane.queue.length > 0) this.#dispatch(lane);
      else if (!this.#userPaused.has(keyOf(lane))) this.#resumeFetch(lane);
    });
  }

  async #handle(lane: Lane, messages: RdkafkaMessage[]): Promise<void> {
    const batch: ConsumedBatch = {
      topic: lane.topic,
      partition: lane.partition,
      highWatermark: this.#highWatermark(lane, messages),
      messages: messages.map(toConsumedMessage),
    };
    try {
      await this.#handlers!.onBatch(batch);
      lane.retryDelayMs = RETRY_FIRST_MS;
    } catch (error) {
      // As kafkajs does: the batch is fetched and handed over again, after a back-off.
      const first = messages[0]!.offset;
      this.#options.logger.error(
        { err: error, topic: lane.topic, partition: lane.partition, offset: first },
        `the batch handler failed; retrying the batch in ${lane.retryDelayMs} ms`,
      );
      if (lane.seekTo === null && !lane.revoked)
        this.seek({ topic: lane.topic, partition: lane.partition, offset: first });
      await new Promise((resolve) => setTimeout(resolve, lane.retryDelayMs).unref());
      lane.retryDelayMs = Math.min(RETRY_MAX_MS, lane.retryDelayMs * 2);
    }
  }

  #highWatermark(lane: Lane, messages: RdkafkaMessage[]): number {
    const last = messages[messages.length - 1]!.offset + 1;
    try {
      return Math.max(
        last,
        this.#consumer.getWatermarkOffsets(lane.topic, lane.partition).highOffset,
      );
    } catch {
      return last;
    }
  }

  #pauseFetch(lane: Lane): void {
    if (lane.fetchPaused) return;
    lane.fetchPaused = true;
    this.#consumer.pause([{ topic: lane.topic, partition: lane.partition }]);
  }

  #resumeFetch(lane: Lane): void {
    if (!lane.fetchPaused) return;
    lane.fetchPaused = false;
    this.#consumer.resume([{ topic: lane.topic, partition: lane.partition }]);
  }

  async #assign(partitions: RdkafkaTopicPartition[]): Promise<void> {
    const { logger, groupId } = this.#options;
    const assigned = partitions.map(({ topic, partition }) => ({ topic, partition }));
    if (!this.#stopping) {
      // Before fetching starts, so that seeks the handler makes become the start offsets.
      await Promise.resolve(this.#handlers?.onAssigned?.(assigned)).catch((error: unknown) =>
        logger.error({ err: error, groupId }, 'onAssigned failed'),
      );
    }
    const starts = assigned.map((entry) => {
      const offset = this.#pendingSeeks.get(keyOf(entry));
      this.#pendingSeeks.delete(keyOf(entry));
      this.#lanes.set(keyOf(entry), {
        ...entry,
        queue: [],
        queuedBytes: 0,
        nextOffset: offset ?? null,
        handling: null,
        fetchPaused: false,
        seekTo: null,
        revoked: false,
        retryDelayMs: RETRY_FIRST_MS,
      });
      return offset === undefined ? entry : { ...entry, offset };
    });
    this.#consumer.assign(starts);
    for (const lane of this.#lanes.values())
      if (this.#userPaused.has(keyOf(lane))) this.#pauseFetch(lane);
    logger.debug({ groupId, assigned }, 'partitions assigned');
    this.#options.wake.signal();
  }

  async #revoke(partitions: RdkafkaTopicPartition[]): Promise<void> {
    const { logger, groupId } = this.#options;
    const revoked = partitions.map(({ topic, partition }) => ({ topic, partition }));
    const lanes = [...this.#lanes.values()];
    for (const lane of lanes) {
      lane.revoked = true;
      lane.queue = [];
    }
    await Promise.all(lanes.map((lane) => lane.handling));
    if (!this.#stopping && revoked.length > 0) {
      await Promise.resolve(this.#handlers?.onRevoked?.(revoked)).catch((error: unknown) =>
        logger.error({ err: error, groupId }, 'onRevoked failed'),
      );
    }
    this.#lanes.clear();
    this.#consumer.unassign();
    logger.debug({ groupId, revoked }, 'partitions revoked');
  }
}
