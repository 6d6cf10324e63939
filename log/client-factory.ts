/**
 * Builds the `LogClient` for a Kafka connection. This is the one place that decides which
 * client library talks to Kafka; everything else sees the port in `log-client.ts`.
 */
import type { KafkaConfig, logLevel as KafkaLogLevel, SASLOptions } from 'kafkajs';
import type { Logger } from 'pino';
import { KafkajsAdmin } from './kafkajs/kafkajs-admin.js';
import { KafkajsConsumer } from './kafkajs/kafkajs-consumer.js';
import { KafkajsProducer } from './kafkajs/kafkajs-producer.js';
import { readRange } from './kafkajs/kafkajs-range-reader.js';
import { kafkajs } from './kafkajs/load-kafkajs.js';
import {
  resolveSasl,
  resolveTls,
  validateBrokers,
  type KafkaConnectionConfig,
} from './kafka-config.js';
import type {
  ConsumerOptions,
  LogClient,
  ProducerOptions,
  ReadRangeOptions,
} from './log-client.js';

export interface LogClientOptions {
  readonly connection: KafkaConnectionConfig;
  readonly logger: Logger;
  /** Replication factor for topics extentlog creates (1 on the embedded broker). */
  readonly replicationFactor?: number;
  /** Producer defaults; per-producer options override them. */
  readonly producer?: {
    maxInFlightBytes?: number;
    maxRequestBytes?: number;
    maxBatchBytes?: number;
  };
}

const MiB = 1024 * 1024;

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
    connectionTimeout: connection.connectionTimeoutMs ?? 3000,
    requestTimeout: connection.requestTimeoutMs ?? 30000,
    logLevel: kafkajs.logLevel.INFO,
    logCreator: kafkajsLogCreator(options.logger),
    ...(connection.tls === undefined ? {} : { ssl: resolveTls(connection.tls) }),
    ...(sasl === undefined ? {} : { sasl: sasl as SASLOptions }),
  };
}

export async function createLogClient(options: LogClientOptions): Promise<LogClient> {
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
        maxInFlightBytes: producerOptions.maxInFlightBytes ?? defaults.maxInFlightBytes ?? 64 * MiB,
        maxRequestBytes: defaults.maxRequestBytes ?? 32 * MiB,
        maxBatchBytes: producerOptions.maxBatchBytes ?? defaults.maxBatchBytes ?? 8 * MiB,
        compression: producerOptions.compression ?? 'none',
      });
      const close = () => producer.close();
      closers.add(close);
      return producer;
    },
    async consumer(consumerOptions: ConsumerOptions) {
      const raw = kafka.consumer({
        groupId: consumerOptions.groupId,
        sessionTimeout: consumerOptions.sessionTimeoutMs ?? 30000,
        // kafkajs heartbeats every 3 s by default: a shorter session would expire between beats.
        heartbeatInterval: Math.min(
          3000,
          Math.floor((consumerOptions.sessionTimeoutMs ?? 30000) / 3),
        ),
        maxBytesPerPartition: consumerOptions.maxBytesPerPartition ?? 16 * MiB,
        maxBytes: 64 * MiB,
        maxWaitTimeInMs: 500,
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
      return readRange(kafka, rawAdmin, rangeOptions);
    },
    async close() {
      for (const close of closers) await close().catch(() => undefined);
      closers.clear();
      await rawAdmin.disconnect();
    },
  };
}
