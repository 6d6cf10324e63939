/**
 * The embedded single-node Kafka broker: one durable store, the Kafka-protocol server in
 * front of it, the consumer-group coordinator, and periodic retention. Clients (kafkajs,
 * librdkafka, kafka-python) talk to it exactly as to a one-broker Kafka cluster.
 *
 *   const broker = await startBroker({ dataDir: './data/broker', port: 9092 });
 *   // … kafkajs with brokers: [`${broker.host}:${broker.port}`] …
 *   await broker.close();
 */
import { readFile } from 'node:fs/promises';
import { LogError } from '../errors.js';
import { silentLogger, type BrokerLogger } from './broker-logger.js';
import { GroupCoordinator } from './groups/group-coordinator.js';
import type { BrokerContext } from './handlers/request-context.js';
import { createRequestRouter } from './handlers/request-router.js';
import { SaslAuthority, type SaslUser } from './sasl/sasl-authority.js';
import { startServer, type ServerLimits, type ServerMetrics } from './server.js';
import { openBrokerStore } from './storage/broker-store.js';
import type { BrokerStore, TopicConfig } from './storage/store.js';
import { KAFKA_DEFAULT_TOPIC_CONFIG, resolveTopicConfig } from './storage/topic-config.js';

export interface BrokerOptions {
  readonly dataDir: string;
  /** Listen address; default 127.0.0.1. */
  readonly host?: string;
  /** 0 picks a free port. Default 9092. */
  readonly port?: number;
  /** Host clients are told to connect to; defaults to the listen host. */
  readonly advertisedHost?: string;
  /** Port clients are told to connect to (behind a proxy or NAT); defaults to the listen port. */
  readonly advertisedPort?: number;
  readonly nodeId?: number;
  readonly clusterId?: string;
  /** PEM files; when given, the listener speaks TLS only. */
  readonly tls?: { readonly certFile: string; readonly keyFile: string };
  /** When given, every connection must authenticate (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512). */
  readonly sasl?: { readonly users: readonly SaslUser[] };
  readonly limits?: Partial<ServerLimits>;
  readonly groups?: {
    /** Kafka's group.initial.rebalance.delay.ms; default 100 (Kafka: 3000). */
    readonly initialRebalanceDelayMs?: number;
    readonly minSessionTimeoutMs?: number;
    readonly maxSessionTimeoutMs?: number;
  };
  /** Kafka's auto.create.topics.enable; default true. */
  readonly autoCreateTopics?: boolean;
  /** Partitions of auto-created topics and of CreateTopics with -1; default 1. */
  readonly defaultPartitions?: number;
  readonly topicDefaults?: Partial<TopicConfig>;
  /** How often retention runs; default 60 s. */
  readonly retentionIntervalMs?: number;
  readonly logger?: BrokerLogger;
  /** Opens the store; the durable on-disk store by default (tests may pass another). */
  readonly openStore?: (
    dataDir: string,
    topicDefaults: TopicConfig,
    logger: BrokerLogger,
  ) => Promise<BrokerStore>;
}

export interface BrokerMetrics extends ServerMetrics {
  readonly requestsByApi: Readonly<Record<string, number>>;
}

export interface RunningBroker {
  readonly host: string;
  readonly port: number;
  readonly nodeId: number;
  readonly store: BrokerStore;
  /** A snapshot of the traffic counters since start. */
  metrics(): BrokerMetrics;
  /** Stops listening, drops connections and closes the store cleanly (no recovery on next open). */
  close(): Promise<void>;
}

export const DEFAULT_LIMITS: ServerLimits = {
  maxRequestBytes: 100 * 1024 * 1024,
  maxPendingResponses: 64,
  writeHighWaterBytes: 16 * 1024 * 1024,
};

export async function startBroker(options: BrokerOptions): Promise<RunningBroker> {
  const logger = options.logger ?? silentLogger;
  const host = options.host ?? '127.0.0.1';
  const port = options.port ?? 9092;
  const nodeId = options.nodeId ?? 0;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw optionError(`port ${port}: expected an integer in 0..65535`);
  }
  const limits = { ...DEFAULT_LIMITS, ...options.limits };
  const tlsFiles = options.tls === undefined ? undefined : await readTlsFiles(options.tls);
  let topicDefaults: TopicConfig;
  try {
    topicDefaults = resolveTopicConfig(KAFKA_DEFAULT_TOPIC_CONFIG, options.topicDefaults ?? {});
  } catch (error) {
    throw optionError(`topicDefaults: ${(error as Error).message}`, error);
  }
  const openStore = options.openStore ?? openDiskStore;
  const store = await openStore(options.dataDir, topicDefaults, logger);
  const coordinator = new GroupCoordinator({
    store,
    logger,
    initialRebalanceDelayMs: options.groups?.initialRebalanceDelayMs ?? 100,
    minSessionTimeoutMs: options.groups?.minSessionTimeoutMs ?? 1000,
    maxSessionTimeoutMs: options.groups?.maxSessionTimeoutMs ?? 30 * 60 * 1000,
  });
  const closing = new AbortController();
  let listening = { host, port };
  const context: BrokerContext = {
    nodeId,
    clusterId: options.clusterId ?? 'extentlog',
    advertised: () => ({
      host: options.advertisedHost ?? listening.host,
      port: options.advertisedPort ?? listening.port,
    }),
    store,
    coordinator,
    topicDefaults,
    autoCreateTopics: options.autoCreateTopics ?? true,
    defaultPartitions: options.defaultPartitions ?? 1,
    sasl: options.sasl === undefined ? undefined : new SaslAuthority(options.sasl.users),
    requestsByApi: {},
    closing: closing.signal,
    logger,
  };
  let server;
  try {
    server = await startServer({
      host,
      port,
      limits,
      logger,
      handler: createRequestRouter(context),
      ...(tlsFiles ? { tls: tlsFiles } : {}),
    });
  } catch (error) {
    coordinator.close();
    await store.close();
    throw error;
  }
  listening = { host: server.host, port: server.port };
  const retentionTimer = setInterval(() => {
    store.enforceRetention(Date.now()).catch((error: unknown) => {
      logger.error({ error }, 'retention failed');
    });
  }, options.retentionIntervalMs ?? 60_000);
  retentionTimer.unref();
  logger.info(
    {
      host: server.host,
      port: server.port,
      dataDir: options.dataDir,
      tls: tlsFiles !== undefined,
      sasl: context.sasl !== undefined,
    },
    'broker listening',
  );

  let closed: Promise<void> | undefined;
  return {
    host: server.host,
    port: server.port,
    nodeId,
    store,
    metrics: () => ({ ...server.metrics, requestsByApi: { ...context.requestsByApi } }),
    close: () =>
      (closed ??= (async () => {
        clearInterval(retentionTimer);
        closing.abort();
        await server.close();
        coordinator.close();
        await store.close();
        logger.info({ dataDir: options.dataDir }, 'broker stopped');
      })()),
  };
}

function openDiskStore(
  dataDir: string,
  defaultTopicConfig: TopicConfig,
  logger: BrokerLogger,
): Promise<BrokerStore> {
  return openBrokerStore({ dataDir, defaultTopicConfig, logger });
}

async function readTlsFiles(files: { certFile: string; keyFile: string }) {
  try {
    return { cert: await readFile(files.certFile), key: await readFile(files.keyFile) };
  } catch (error) {
    throw optionError(
      `TLS certificate or key not readable (${files.certFile}, ${files.keyFile}): ${(error as Error).message}`,
      error,
    );
  }
}

function optionError(message: string, cause?: unknown): LogError {
  return new LogError(
    'EXTENTLOG_ERR_LOG_BROKER_OPTIONS',
    `broker options: ${message}`,
    cause === undefined ? {} : { cause },
  );
}
