/**
 * The log port: the only way the rest of extentlog talks to Kafka. Producers, consumers,
 * the status API and the CLI receive a `LogClient`; which client library sits behind it
 * (kafkajs today, librdkafka later) is decided in `client-factory.ts` and nowhere else.
 *
 * Offsets are plain numbers (exact up to 2^53 records per partition).
 */

export interface LogHeaders {
  readonly [name: string]: Buffer;
}

export interface LogMessage {
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers?: LogHeaders;
  readonly timestampMs?: number;
}

export interface ConsumedMessage {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers: LogHeaders;
  readonly timestampMs: number;
}

export interface TopicPartition {
  readonly topic: string;
  readonly partition: number;
}

export interface TopicPartitionOffset extends TopicPartition {
  /** The next offset to read (Kafka's committed-offset convention). */
  readonly offset: number;
  /** Free text stored with a committed offset (consumers keep their resume state in it). */
  readonly metadata?: string | null;
}

export interface TopicSpec {
  readonly topic: string;
  readonly partitions: number;
  /** -1 keeps records forever. */
  readonly retentionMs?: number;
  readonly retentionBytes?: number;
  readonly cleanupPolicy?: 'delete' | 'compact';
  readonly maxMessageBytes?: number;
}

export interface PartitionOffsets {
  readonly partition: number;
  /** First offset still in the log (retention moves it forward). */
  readonly startOffset: number;
  /** Offset the next record will get. */
  readonly endOffset: number;
}

export interface ProducerOptions {
  /** Upper bound on bytes handed to `send` but not yet acknowledged; `send` waits above it. */
  readonly maxInFlightBytes?: number;
  /** Largest record batch per partition in one request: keep it below the topic's max.message.bytes. */
  readonly maxBatchBytes?: number;
  readonly compression?: 'none' | 'gzip';
}

export interface SendResult {
  readonly topic: string;
  readonly partition: number;
  /** Offset of the first message of the send. */
  readonly baseOffset: number;
}

/**
 * Idempotent, acks=all producer. Order is preserved per partition in the order of calls.
 * Once a send fails the producer is unusable (its sequence state is uncertain): every later
 * call rejects, and the caller re-reads its position from the log with a new producer.
 */
export interface LogProducer {
  /** Resolves when the messages are acknowledged. */
  send(topic: string, partition: number, messages: readonly LogMessage[]): Promise<SendResult>;
  /**
   * Resolves as soon as the messages are admitted to the in-flight window (back-pressure:
   * waits while it is full). Failures surface at the next `flush`, `send` or `publish`.
   */
  publish(topic: string, partition: number, messages: readonly LogMessage[]): Promise<void>;
  /** Resolves when every send issued so far is acknowledged (or rejects with the first failure). */
  flush(): Promise<void>;
  /** Bytes handed to `send` and not yet acknowledged. */
  inFlightBytes(): number;
  close(): Promise<void>;
}

export interface ConsumedBatch extends TopicPartition {
  readonly messages: readonly ConsumedMessage[];
  /** The partition's end offset when the batch was fetched (for lag). */
  readonly highWatermark: number;
}

export interface ConsumerHandlers {
  /** Called per batch, in order per partition; the consumer does not fetch that partition again until it resolves. */
  onBatch(batch: ConsumedBatch): Promise<void>;
  onAssigned?(partitions: readonly TopicPartition[]): void | Promise<void>;
  onRevoked?(partitions: readonly TopicPartition[]): void | Promise<void>;
}

export interface ConsumerOptions {
  readonly groupId: string;
  readonly topics: readonly string[];
  /** Where a group with no committed offset starts. */
  readonly fromBeginning?: boolean;
  readonly sessionTimeoutMs?: number;
  readonly maxBytesPerPartition?: number;
}

/** A group member with manual commits and per-partition pause/resume. */
export interface LogConsumer {
  run(handlers: ConsumerHandlers): Promise<void>;
  pause(partitions: readonly TopicPartition[]): void;
  resume(partitions: readonly TopicPartition[]): void;
  commit(offsets: readonly TopicPartitionOffset[]): Promise<void>;
  /** Rewinds a partition; the next batch starts at `offset`. */
  seek(position: TopicPartitionOffset): void;
  stop(): Promise<void>;
}

export interface GroupOffsets {
  readonly groupId: string;
  readonly topic: string;
  /** offset -1: nothing committed for that partition. */
  readonly partitions: readonly { partition: number; offset: number; metadata: string | null }[];
}

export interface LogAdmin {
  /** Creates the topic or, if it exists, grows it to `partitions`; never shrinks or deletes data. */
  ensureTopic(spec: TopicSpec): Promise<void>;
  deleteTopic(topic: string): Promise<void>;
  listTopics(): Promise<string[]>;
  offsets(topic: string): Promise<PartitionOffsets[]>;
  groupOffsets(groupId: string, topic: string): Promise<GroupOffsets>;
  listGroups(): Promise<string[]>;
}

export interface ReadRangeOptions extends TopicPartition {
  readonly fromOffset: number;
  /** Exclusive; defaults to the end offset at the time of the call. */
  readonly toOffset?: number;
}

export interface LogClient {
  readonly admin: LogAdmin;
  producer(options?: ProducerOptions): Promise<LogProducer>;
  consumer(options: ConsumerOptions): Promise<LogConsumer>;
  /** Reads a partition range without a consumer group (tail scans, restore-point reads). */
  readRange(options: ReadRangeOptions): AsyncIterable<ConsumedMessage>;
  close(): Promise<void>;
}
