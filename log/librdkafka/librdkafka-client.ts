/**
 * The log port's data path over librdkafka (@confluentinc/kafka-javascript): producers,
 * group consumers and range readers, each its own librdkafka client. Topic administration
 * stays with the admin passed in (kafkajs): librdkafka's CreateTopics asks for the broker's
 * default replication factor (-1), which needs CreateTopics v4 (KIP-464) and the embedded
 * broker speaks v0–v3.
 *
 * Memory bounds and the largest record batch follow the kafkajs driver's defaults
 * (`LOG_DEFAULTS`), so switching drivers changes neither; how librdkafka fills its requests
 * is tuned below.
 */
import type { Logger } from 'pino';
import type {
  ConsumerOptions,
  LogAdmin,
  LogClient,
  ProducerOptions,
  ReadRangeOptions,
} from '../log-client.js';
import { LOG_DEFAULTS, MiB, type LogClientOptions } from '../log-client-options.js';
import { consumeWithoutWaiting, QueueWake } from './consumer-queue.js';
import { connectionProperties, routeLogs } from './librdkafka-config.js';
import { LibrdkafkaConsumer } from './librdkafka-consumer.js';
import { toLogError } from './librdkafka-errors.js';
import { LibrdkafkaProducer } from './librdkafka-producer.js';
import { readRange } from './librdkafka-range-reader.js';
import type {
  RdkafkaConfig,
  RdkafkaError,
  RdkafkaModule,
  RdkafkaTopicPartition,
} from './rdkafka-api.js';

interface Connectable {
  connect(
    options: { readonly allTopics?: boolean; readonly timeout?: number },
    callback: (error: Error | null) => void,
  ): unknown;
}

async function connect<T extends Connectable>(
  client: T,
  timeoutMs: number,
  what: string,
): Promise<T> {
  try {
    await new Promise<void>((resolve, reject) =>
      client.connect({ allTopics: false, timeout: timeoutMs }, (error) =>
        error ? reject(error) : resolve(),
      ),
    );
    return client;
  } catch (error) {
    throw toLogError(error, `connecting ${what}`, 'EXTENTLOG_ERR_LOG_CONNECT');
  }
}

/** The port minus its admin, which the caller composes in. */
export type LogDataPath = Omit<LogClient, 'admin'>;

export function createLibrdkafkaDataPath(
  rdkafka: RdkafkaModule,
  options: LogClientOptions,
  admin: LogAdmin,
): LogDataPath {
  const base = connectionProperties(options.connection);
  const logger: Logger = options.logger.child({ driver: 'librdkafka' });
  const defaults = options.producer ?? {};
  const requestTimeoutMs = options.connection.requestTimeoutMs ?? LOG_DEFAULTS.requestTimeoutMs;
  const connectTimeoutMs = Math.max(
    requestTimeoutMs,
    options.connection.connectionTimeoutMs ?? LOG_DEFAULTS.connectionTimeoutMs,
  );
  const closers = new Set<() => Promise<void>>();

  const consumerProperties = (maxBytesPerPartition: number): RdkafkaConfig => ({
    ...base,
    // At most 4 MiB per partition and fetch: with 16 MiB fetches librdkafka spends twice
    // the CPU per GiB consumed and is no faster (log-drivers bench, 512 KiB records);
    // smaller fetches only make the batches handed to onBatch smaller.
    'fetch.message.max.bytes': Math.min(maxBytesPerPartition, 4 * MiB),
    'fetch.max.bytes': LOG_DEFAULTS.maxFetchBytes,
    'receive.message.max.bytes': LOG_DEFAULTS.maxFetchBytes + MiB,
    'fetch.wait.max.ms': LOG_DEFAULTS.fetchMaxWaitMs,
    // Prefetch bound of the whole consumer (librdkafka: one queue for every partition).
    'queued.max.messages.kbytes': LOG_DEFAULTS.maxFetchBytes / 1024,
    // Above that bound librdkafka waits this long before fetching again (default 1 s).
    'fetch.queue.backoff.ms': 20,
  });

  return {
    async producer(producerOptions: ProducerOptions = {}) {
      const maxInFlightBytes =
        producerOptions.maxInFlightBytes ??
        defaults.maxInFlightBytes ??
        LOG_DEFAULTS.maxInFlightBytes;
      const maxBatchBytes =
        producerOptions.maxBatchBytes ?? defaults.maxBatchBytes ?? LOG_DEFAULTS.maxBatchBytes;
      const maxRequestBytes = Math.max(
        defaults.maxRequestBytes ?? LOG_DEFAULTS.maxRequestBytes,
        maxBatchBytes + MiB,
      );
      const raw = new rdkafka.Producer({
        ...base,
        'enable.idempotence': true,
        acks: -1,
        'compression.codec': producerOptions.compression ?? 'none',
        'linger.ms': 2,
        // Measured against the embedded broker with 512 KiB records (log-drivers bench):
        // batches of about 1 MiB and one request in flight per broker use 0.9 CPU-s per GiB;
        // 8 MiB batches, or 5 requests in flight to one partition, keep librdkafka's broker
        // thread polling while it waits for acknowledgements (3–10 CPU-s per GiB) and are
        // no faster. One request still carries a batch of every partition with data.
        'batch.size': Math.min(maxBatchBytes, MiB),
        'max.in.flight': 1,
        'message.max.bytes': maxRequestBytes,
        'message.timeout.ms': defaults.deliveryTimeoutMs ?? LOG_DEFAULTS.deliveryTimeoutMs,
        // The window bounds what is queued; librdkafka's queue must hold the whole window,
        // and a single send larger than it (admitted when nothing else is in flight).
        'queue.buffering.max.kbytes': Math.ceil(
          (2 * Math.max(maxInFlightBytes, maxBatchBytes)) / 1024,
        ),
        'queue.buffering.max.messages': 0,
        // A topic missing from the metadata fails its sends after this long (feeds create
        // their topics first, so only a deleted or mistyped topic waits it out).
        'topic.metadata.propagation.max.ms': 10_000,
        dr_cb: true,
      });
      routeLogs(raw, logger);
      await connect(raw, connectTimeoutMs, 'a producer');
      raw.setPollInBackground(true);
      const producer = new LibrdkafkaProducer(raw, { maxInFlightBytes, maxBatchBytes });
      const close = () => producer.close();
      closers.add(close);
      return producer;
    },

    async consumer(consumerOptions: ConsumerOptions) {
      const wake = new QueueWake();
      let consumer: LibrdkafkaConsumer | null = null;
      const sessionTimeoutMs = consumerOptions.sessionTimeoutMs ?? LOG_DEFAULTS.sessionTimeoutMs;
      const raw = new rdkafka.KafkaConsumer({
        ...consumerProperties(
          consumerOptions.maxBytesPerPartition ?? LOG_DEFAULTS.maxBytesPerPartition,
        ),
        'group.id': consumerOptions.groupId,
        'enable.auto.commit': false,
        'enable.auto.offset.store': false,
        'auto.offset.reset': (consumerOptions.fromBeginning ?? true) ? 'earliest' : 'latest',
        'session.timeout.ms': sessionTimeoutMs,
        'heartbeat.interval.ms': Math.max(100, Math.min(3000, Math.floor(sessionTimeoutMs / 3))),
        rebalance_cb: (error: RdkafkaError, partitions: RdkafkaTopicPartition[]) =>
          consumer?.onRebalance(error, partitions),
        queue_non_empty_cb: wake.signal,
      });
      routeLogs(raw, logger);
      await connect(raw, connectTimeoutMs, `a consumer of group ${consumerOptions.groupId}`);
      consumeWithoutWaiting(raw);
      consumer = new LibrdkafkaConsumer(raw, {
        groupId: consumerOptions.groupId,
        topics: consumerOptions.topics,
        logger,
        wake,
      });
      const stop = () => consumer!.stop();
      closers.add(stop);
      return consumer;
    },

    readRange(rangeOptions: ReadRangeOptions) {
      return readRange(
        {
          admin,
          logger,
          stallTimeoutMs: requestTimeoutMs,
          maxQueuedBytes: 16 * MiB,
          async connectConsumer(properties) {
            const raw = new rdkafka.KafkaConsumer({
              ...consumerProperties(LOG_DEFAULTS.maxBytesPerPartition),
              ...properties,
            });
            routeLogs(raw, logger);
            await connect(raw, connectTimeoutMs, `a reader of ${rangeOptions.topic}`);
            consumeWithoutWaiting(raw);
            return raw;
          },
        },
        rangeOptions,
      );
    },

    async close() {
      for (const close of closers) await close().catch(() => undefined);
      closers.clear();
    },
  };
}
