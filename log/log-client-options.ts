/**
 * What `createLogClient` needs to build a log client, whichever driver sits behind it.
 */
import type { Logger } from 'pino';
import type { KafkaConnectionConfig } from './kafka-config.js';

/**
 * The client library behind the log port. `auto` takes librdkafka when its optional
 * package is installed (`scripts/setup.sh --librdkafka`) and kafkajs otherwise.
 */
export const LOG_DRIVER_CHOICES = ['auto', 'kafkajs', 'librdkafka'] as const;
export type LogDriverChoice = (typeof LOG_DRIVER_CHOICES)[number];
export type LogDriver = Exclude<LogDriverChoice, 'auto'>;

export interface LogClientOptions {
  readonly connection: KafkaConnectionConfig;
  readonly logger: Logger;
  /** Default 'auto'. */
  readonly driver?: LogDriverChoice;
  /** Replication factor for topics extentlog creates (1 on the embedded broker). */
  readonly replicationFactor?: number;
  /** Producer defaults; per-producer options override them. */
  readonly producer?: {
    maxInFlightBytes?: number;
    maxRequestBytes?: number;
    maxBatchBytes?: number;
    /**
     * librdkafka only: how long a message may wait for its acknowledgement, retries
     * included, before its send fails (message.timeout.ms). kafkajs gives up after its own
     * retry count instead.
     */
    deliveryTimeoutMs?: number;
  };
}

export const MiB = 1024 * 1024;

/** Defaults shared by both drivers, so that switching drivers changes nothing else. */
export const LOG_DEFAULTS = {
  maxInFlightBytes: 64 * MiB,
  maxRequestBytes: 32 * MiB,
  maxBatchBytes: 8 * MiB,
  deliveryTimeoutMs: 60_000,
  sessionTimeoutMs: 30_000,
  maxBytesPerPartition: 16 * MiB,
  maxFetchBytes: 64 * MiB,
  fetchMaxWaitMs: 500,
  connectionTimeoutMs: 3000,
  requestTimeoutMs: 30_000,
} as const;
