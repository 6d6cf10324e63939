/**
 * The log port over kafkajs (Kafka protocol in JavaScript): admin, producer, group consumer
 * and range reader on one `Kafka` instance.
 */
import type { KafkaConfig, logLevel as KafkaLogLevel, SASLOptions } from 'kafkajs';
import type { Logger } from 'pino';
import { resolveSasl, resolveTls, validateBrokers } from '../kafka-config.js';
import type {
  ConsumerOptions,
  LogClient,
  ProducerOptions,
  ReadRangeOptions,
} from '../log-client.js';
import { LOG_DEFAULTS, type LogClientOptions } from '../log-client-options.js';
import { KafkajsAdmin } from './kafkajs-admin.js';
import { KafkajsConsumer } from './kafkajs-consumer.js';
import { KafkajsProducer } from './kafkajs-producer.js';
import { readRange } from './kafkajs-range-reader.js';
import { kafkajs } from './load-kafkajs.js';

function kafkajsLogCreator(logger: Logger) {
  const { logLevel } = kafkajs;
  return () =>
    ({
      level,
      log,
    }: {
      level: KafkaLogLevel;
      log: { message: string; [key: string]: unknown };
    }) => {
      const { message, ...rest } = log;
      const child = { kafkajs: true, ...rest };
      if (level === logLevel.ERROR) logger.error(child, message);
      else if (level === logLevel.WARN) logger.warn(child, message);
      else if (level === logLevel.INFO) logger.debug(child, message);
      else logger.trace(child, message);
    };
}

function kafkajsConfig(options: LogClientOptions): KafkaConfig {
  const { connection } = options;
  validateBrokers(connection.brokers);
  const sasl = connection.sasl === undefined ? undefined : resolveSasl(connection.sasl);
  return {
    clientId: connection.clientId,
    brokers: [...connection.brokers],
    connectionTimeout: connection.connectionTimeoutMs ?? LOG_DEFAULTS.connectionTimeoutMs,
    requestTimeout: connection.requestTimeoutMs ?? LOG_DEFAULTS.requestTimeoutMs,
    logLevel: kafkajs.logLevel.INFO,
    logCreator: kafkajsLogCreator(options.logger),
    ...(connection.tls === undefined ? {} : { ssl: resolveTls(connection.tls) }),
    ...(sasl === undefined ? {} : { sasl: sasl as SASLOptions }),
  };
}

export interface KafkajsClient extends LogClient {
  readonly admin: KafkajsAdmin;
}

export async function createKafkajsClient(options: LogClientOptions): Promise<KafkajsClient> {
  const kafka = new kafkajs.Kafka(kafkajsConfig(options));
  const rawAdmin = kafka.admin();
  await rawAdmin.connect();
  const admin = new KafkajsAdmin(rawAdmin, options.replicationFactor ?? 1);
  const defaults = options.producer ?? {};
  const closers = new Set<() => Promise<void>>();
  return {
    admin,
    async producer(producerOptions: ProducerOptions = {}) {
      const raw = kafka.producer({
        idempotent: true,
        maxInFlightRequests: 1,
        allowAutoTopicCreation: false,
        // Every send names its partition; the partitioner is never consulted.
        createPartitioner: kafkajs.Partitioners.DefaultPartitioner,
      });
      await raw.connect();
      const producer = new KafkajsProducer(raw, {
        maxInFlightBytes:
          producerOptions.maxInFlightBytes ??
          defaults.maxInFlightBytes ??
          LOG_DEFAULTS.maxInFlightBytes,
        maxRequestBytes: defaults.maxRequestBytes ?? LOG_DEFAULTS.maxRequestBytes,
        maxBatchBytes:
          producerOptions.maxBatchBytes ?? defaults.maxBatchBytes ?? LOG_DEFAULTS.maxBatchBytes,
        compression: producerOptions.compression ?? 'none',
      });
      closers.add(() => producer.close());
      return producer;
    },
    async consumer(consumerOptions: ConsumerOptions) {
      const raw = kafka.consumer({
        groupId: consumerOptions.groupId,
        sessionTimeout: consumerOptions.sessionTimeoutMs ?? LOG_DEFAULTS.sessionTimeoutMs,
        maxBytesPerPartition:
          consumerOptions.maxBytesPerPartition ?? LOG_DEFAULTS.maxBytesPerPartition,
        maxBytes: LOG_DEFAULTS.maxFetchBytes,
        maxWaitTimeInMs: LOG_DEFAULTS.fetchMaxWaitMs,
        allowAutoTopicCreation: false,
      });
      await raw.connect();
      const consumer = new KafkajsConsumer(
        raw,
        consumerOptions.groupId,
        consumerOptions.topics,
        consumerOptions.fromBeginning ?? true,
      );
      closers.add(() => consumer.stop());
      return consumer;
    },
    readRange(rangeOptions: ReadRangeOptions) {
      return readRange(kafka, admin, rangeOptions);
    },
    async close() {
      for (const close of closers) await close().catch(() => undefined);
      closers.clear();
      await rawAdmin.disconnect();
    },
  };
}
