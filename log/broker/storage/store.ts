/**
 * The storage contract of the embedded broker: what the protocol layer (server, request
 * handlers, group coordinator) may ask of the durable store. One `BrokerStore` per data
 * directory; one `PartitionLog` per topic partition.
 *
 * Durability model (single node): an append is acknowledged as durable only after the
 * bytes are fsynced (group commit: appends arriving while an fsync runs share the next one).
 * The high watermark is the durable end of the log: a consumer never sees a record that a
 * crash could take back.
 */

export { KAFKA_ERROR_CODES, StoreError, type StoreErrorCode } from './errors.js';

export interface TopicConfig {
  /** Records older than this are deleted by retention; -1 = forever. */
  readonly retentionMs: number;
  /** A partition larger than this loses its oldest segments; -1 = unbounded. */
  readonly retentionBytes: number;
  readonly cleanupPolicy: 'delete' | 'compact';
  /** Largest record batch accepted, in bytes. */
  readonly maxMessageBytes: number;
  /** A segment is closed (and becomes eligible for retention and compaction) at this size. */
  readonly segmentBytes: number;
  /**
   * A segment is closed when an appended batch's timestamp is this much newer than the
   * segment's first batch (Kafka's segment.ms, measured on batch timestamps).
   */
  readonly segmentMs: number;
  /** Compacted topics: how long a tombstone (null value) outlives the records it deletes. */
  readonly deleteRetentionMs: number;
}

export interface TopicMetadata {
  readonly name: string;
  readonly partitions: number;
  readonly config: TopicConfig;
  /** The Kafka topic id is not exposed by the versions we speak; kept for DeleteTopics bookkeeping. */
  readonly createdAtMs: number;
}

export interface AppendOptions {
  /** acks=-1: resolve only after fsync. acks=1: resolve after the write reached the file. */
  readonly durable: boolean;
}

export interface AppendResult {
  /** Offset assigned to the first record of the first batch (or the original one for a duplicate). */
  readonly baseOffset: number;
  /** -1: topics keep the producer's CreateTime, which Kafka reports as -1 in ProduceResponse. */
  readonly logAppendTimeMs: number;
  readonly logStartOffset: number;
  /** True when an idempotent producer's retry matched batches already in the log. */
  readonly duplicate: boolean;
}

export interface ReadResult {
  /**
   * Whole magic-2 batches, exactly as stored, starting with the batch that contains
   * `fetchOffset` (or the next one, when compaction removed it); at least one whole batch
   * when any is below the high watermark, even if it exceeds `maxBytes`; otherwise stops
   * before exceeding `maxBytes`. Batches of one segment per call; may be a view into a
   * larger buffer. Empty at the high watermark.
   */
  readonly records: Buffer;
  readonly highWatermark: number;
  readonly logStartOffset: number;
}

export interface PartitionLog {
  readonly topic: string;
  readonly partition: number;
  logStartOffset(): number;
  /** Durable end of the log: the offset the next record will get once everything is fsynced. */
  highWatermark(): number;
  /**
   * Appends the record batches of one Produce partition entry. Validates each batch (magic 2,
   * CRC-32C, lengths, size limit); assigns offsets by rewriting baseOffset; checks and
   * advances idempotent-producer sequences; rejects the whole entry on the first bad batch.
   * Throws `StoreError`. The store takes the buffer over: it rewrites the baseOffset fields
   * in place and writes it to the segment as is, so the caller must not reuse it.
   */
  append(batches: Buffer, options: AppendOptions): Promise<AppendResult>;
  /** Throws `StoreError('OFFSET_OUT_OF_RANGE')` outside [logStartOffset, highWatermark]. */
  read(fetchOffset: number, maxBytes: number): Promise<ReadResult>;
  /** Resolves when highWatermark() > offset, or after timeoutMs, or when the signal aborts. */
  waitForData(offset: number, timeoutMs: number, signal?: AbortSignal): Promise<void>;
  /**
   * ListOffsets by timestamp: the base offset (at least logStartOffset) of the first durable
   * batch whose max timestamp is >= timestampMs, or null when there is none.
   */
  offsetForTimestamp(timestampMs: number): Promise<number | null>;
}

export interface CommittedOffset {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly metadata: string | null;
  readonly commitTimestampMs: number;
}

export interface BrokerStore {
  readonly dataDir: string;
  topics(): readonly TopicMetadata[];
  topic(name: string): TopicMetadata | undefined;
  /** Throws StoreError TOPIC_ALREADY_EXISTS / INVALID_PARTITIONS / INVALID_CONFIG / INVALID_TOPIC_EXCEPTION. */
  createTopic(
    name: string,
    partitions: number,
    config: Partial<TopicConfig>,
  ): Promise<TopicMetadata>;
  /** Grows a topic (CreatePartitions); never shrinks. */
  createPartitions(name: string, totalCount: number): Promise<TopicMetadata>;
  /** Removes the topic's data and the offsets groups committed for it. */
  deleteTopic(name: string): Promise<void>;
  partition(topic: string, partition: number): PartitionLog | undefined;
  /** A fresh, durable producer id (epoch 0) for InitProducerId. */
  allocateProducerId(): Promise<{ producerId: number; producerEpoch: number }>;
  /** Resolves once the commit is durable (commits arriving during an fsync share the next one). */
  commitOffsets(
    groupId: string,
    offsets: readonly Omit<CommittedOffset, 'commitTimestampMs'>[],
  ): Promise<void>;
  /** All committed offsets of a group, optionally for some topics only. */
  fetchOffsets(groupId: string, topics?: readonly string[]): readonly CommittedOffset[];
  /** Group ids that have committed offsets (ListGroups also reports live groups). */
  offsetGroups(): readonly string[];
  deleteGroupOffsets(groupId: string): Promise<void>;
  /** Applies time/size retention and compaction; called periodically by the broker. */
  enforceRetention(nowMs: number): Promise<void>;
  /** Bytes the store occupies on disk (for the status API's broker disk usage metric). */
  diskUsageBytes(): number;
  close(): Promise<void>;
}

/** Structured logging, pino-compatible: `logger.warn({ topic, partition }, 'truncated …')`. */
export interface StoreLogger {
  info(fields: Readonly<Record<string, unknown>>, message: string): void;
  warn(fields: Readonly<Record<string, unknown>>, message: string): void;
  error(fields: Readonly<Record<string, unknown>>, message: string): void;
}

export interface BrokerStoreOptions {
  /** Created if missing; one store per directory (a second open is refused). */
  readonly dataDir: string;
  readonly logger?: StoreLogger;
  /** Config of topics created without an explicit value (Kafka's defaults otherwise). */
  readonly defaultTopicConfig?: Partial<TopicConfig>;
  /** acks=0/1 appends become durable (and visible to consumers) within about this long. Default 10. */
  readonly flushIntervalMs?: number;
  /** Bytes of log between two sparse index entries. Default 4096 (Kafka's index.interval.bytes). */
  readonly indexIntervalBytes?: number;
  /** Idempotent-producer state is dropped this long after the producer's last append. Default 7 days. */
  readonly producerIdExpirationMs?: number;
}

/** Opens (creating or recovering) the store in `options.dataDir`; see `broker-store.ts`. */
export type OpenBrokerStore = (options: BrokerStoreOptions) => Promise<BrokerStore>;
