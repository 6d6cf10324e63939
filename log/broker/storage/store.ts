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

/** Kafka error codes the store reports (numbers from the Kafka protocol's error table). */
export type StoreErrorCode =
  | 'CORRUPT_MESSAGE' // 2
  | 'UNKNOWN_TOPIC_OR_PARTITION' // 3
  | 'MESSAGE_TOO_LARGE' // 10
  | 'OFFSET_OUT_OF_RANGE' // 1
  | 'TOPIC_ALREADY_EXISTS' // 36
  | 'INVALID_PARTITIONS' // 37
  | 'INVALID_REPLICATION_FACTOR' // 38
  | 'INVALID_CONFIG' // 40
  | 'INVALID_TOPIC_EXCEPTION' // 17
  | 'OUT_OF_ORDER_SEQUENCE_NUMBER' // 45
  | 'INVALID_PRODUCER_EPOCH' // 47
  | 'UNKNOWN_PRODUCER_ID' // 59
  | 'UNSUPPORTED_FOR_MESSAGE_FORMAT' // 43
  | 'KAFKA_STORAGE_ERROR'; // 56

export interface TopicConfig {
  /** Records older than this are deleted by retention; -1 = forever. */
  readonly retentionMs: number;
  /** A partition larger than this loses its oldest segments; -1 = unbounded. */
  readonly retentionBytes: number;
  readonly cleanupPolicy: 'delete' | 'compact';
  /** Largest record batch accepted, in bytes. */
  readonly maxMessageBytes: number;
  readonly segmentBytes: number;
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
  readonly logAppendTimeMs: number;
  readonly logStartOffset: number;
  /** True when an idempotent producer's retry matched batches already in the log. */
  readonly duplicate: boolean;
}

export interface ReadResult {
  /**
   * Whole magic-2 batches, exactly as stored, starting with the batch that contains
   * `fetchOffset`; at least one whole batch when any is below the high watermark, even if
   * it exceeds `maxBytes`; otherwise stops before exceeding `maxBytes`.
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
   * Throws `StoreError`.
   */
  append(batches: Buffer, options: AppendOptions): Promise<AppendResult>;
  /** Throws `StoreError('OFFSET_OUT_OF_RANGE')` outside [logStartOffset, highWatermark]. */
  read(fetchOffset: number, maxBytes: number): Promise<ReadResult>;
  /** Resolves when highWatermark() > offset, or after timeoutMs, or when the signal aborts. */
  waitForData(offset: number, timeoutMs: number, signal?: AbortSignal): Promise<void>;
  /** ListOffsets by timestamp: first offset whose batch max timestamp >= timestampMs, or null. */
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
  deleteTopic(name: string): Promise<void>;
  partition(topic: string, partition: number): PartitionLog | undefined;
  /** A fresh, durable producer id (epoch 0) for InitProducerId. */
  allocateProducerId(): Promise<{ producerId: number; producerEpoch: number }>;
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

export class StoreError extends Error {
  constructor(
    readonly kafkaError: StoreErrorCode,
    message: string,
    /** For duplicates of older batches the store cannot place exactly. */
    readonly details: Readonly<Record<string, unknown>> = {},
  ) {
    super(message);
    this.name = 'StoreError';
  }
}
