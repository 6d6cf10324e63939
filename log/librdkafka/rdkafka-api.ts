/**
 * The part of @confluentinc/kafka-javascript's node-rdkafka-style API (its `Producer` and
 * `KafkaConsumer` over librdkafka's C++ API) that the librdkafka driver uses, declared here
 * because the package is optional: extentlog must type-check and build without it.
 * Shapes follow the package's `types/rdkafka.d.ts` of the version pinned in
 * `log/librdkafka/package-lock.json`.
 */

/** librdkafka configuration properties (CONFIGURATION.md) plus the binding's callbacks. */
export type RdkafkaConfig = Record<
  string,
  string | number | boolean | ((...args: never[]) => unknown)
>;

/** A librdkafka error as the binding reports it: negative codes are local, others Kafka's. */
export interface RdkafkaError extends Error {
  readonly code: number;
  readonly origin?: string;
  readonly isFatal?: boolean;
  readonly isRetriable?: boolean;
}

export interface RdkafkaTopicPartition {
  readonly topic: string;
  readonly partition: number;
  readonly offset?: number;
  readonly metadata?: string;
}

/** Headers as the binding takes and returns them: one single-key object per header. */
export type RdkafkaHeaders = { [name: string]: Buffer }[];

export interface RdkafkaMessage {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly value: Buffer | null;
  readonly key?: Buffer | null;
  readonly size: number;
  readonly timestamp?: number;
  readonly headers?: RdkafkaHeaders;
}

export interface RdkafkaDeliveryReport {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly opaque?: unknown;
}

/** A librdkafka log line (syslog severity 0–7). */
export interface RdkafkaLogEvent {
  readonly severity: number;
  readonly fac: string;
  readonly message: string;
}

export interface RdkafkaPartitionEof {
  readonly topic: string;
  readonly partition: number;
  /** The partition's end offset when it was reached. */
  readonly offset: number;
}

interface RdkafkaClient {
  connect(
    options: { readonly allTopics?: boolean; readonly timeout?: number },
    callback: (error: RdkafkaError | null) => void,
  ): unknown;
  isConnected(): boolean;
  on(event: 'event.log', listener: (event: RdkafkaLogEvent) => void): this;
  on(event: 'event.error', listener: (error: RdkafkaError) => void): this;
}

export interface RdkafkaProducer extends RdkafkaClient {
  /** Queues one message (librdkafka copies it); throws a RdkafkaError when it cannot. */
  produce(
    topic: string,
    partition: number,
    value: Buffer | null,
    key: Buffer | null,
    timestampMs: number | null,
    opaque: unknown,
    headers: RdkafkaHeaders | undefined,
  ): unknown;
  /** Serve delivery reports on librdkafka's background thread instead of a JS poll timer. */
  setPollInBackground(enabled: boolean): unknown;
  /** Waits up to `timeoutMs` for queued messages, then closes the client. */
  disconnect(timeoutMs: number, callback: (error: RdkafkaError | null) => void): unknown;
  on(event: 'event.log', listener: (event: RdkafkaLogEvent) => void): this;
  on(event: 'event.error', listener: (error: RdkafkaError) => void): this;
  on(
    event: 'delivery-report',
    listener: (error: RdkafkaError | null, report: RdkafkaDeliveryReport) => void,
  ): this;
}

export interface RdkafkaConsumer extends RdkafkaClient {
  /** Leaves the group (revoking through rebalance_cb) and closes the client. */
  disconnect(callback: (error: RdkafkaError | null) => void): unknown;
  subscribe(topics: string[]): unknown;
  assign(partitions: RdkafkaTopicPartition[]): unknown;
  unassign(): unknown;
  pause(partitions: RdkafkaTopicPartition[]): unknown;
  resume(partitions: RdkafkaTopicPartition[]): unknown;
  seek(
    position: RdkafkaTopicPartition,
    timeoutMs: number,
    callback: (error: RdkafkaError | null | undefined) => void,
  ): unknown;
  /** Up to `count` messages already fetched (see setDefaultConsumeTimeout). */
  consume(
    count: number,
    callback: (error: RdkafkaError | null, messages: RdkafkaMessage[]) => void,
  ): unknown;
  /** The partition's offsets as of the last fetch response (no request is made). */
  getWatermarkOffsets(
    topic: string,
    partition: number,
  ): { readonly lowOffset: number; readonly highOffset: number };
  setDefaultConsumeTimeout(timeoutMs: number): unknown;
  setDefaultIsTimeoutOnlyForFirstMessage(enabled: boolean): unknown;
  commitCb(
    offsets: RdkafkaTopicPartition[],
    callback: (error: RdkafkaError | null) => void,
  ): unknown;
  on(event: 'event.log', listener: (event: RdkafkaLogEvent) => void): this;
  on(event: 'event.error', listener: (error: RdkafkaError) => void): this;
  on(event: 'partition.eof', listener: (eof: RdkafkaPartitionEof) => void): this;
}

export interface RdkafkaModule {
  /** The librdkafka version compiled into the binding, e.g. '2.15.1'. */
  readonly librdkafkaVersion: string;
  readonly Producer: new (config: RdkafkaConfig) => RdkafkaProducer;
  readonly KafkaConsumer: new (config: RdkafkaConfig) => RdkafkaConsumer;
}
