/**
 * The embedded default: the Kafka-compatible broker and the schema registry in this
 * process, with their data under one directory (`<dataDir>/broker`, `<dataDir>/registry`).
 */
import path from 'node:path';
import type { Logger } from 'pino';
import { startBroker, type RunningBroker } from '../log/broker/broker.js';
import {
  startSchemaRegistry,
  type RunningSchemaRegistry,
} from '../log/registry/schema-registry.js';

export interface EmbeddedServices {
  readonly broker: RunningBroker;
  readonly registry: RunningSchemaRegistry;
  /** `host:port` for `kafka.brokers`. */
  readonly brokerAddress: string;
  readonly registryUrl: string;
  close(): Promise<void>;
}

export async function startEmbedded(options: {
  readonly dataDir: string;
  readonly host: string;
  readonly port: number;
  readonly registryPort: number;
  readonly logger: Logger;
}): Promise<EmbeddedServices> {
  const broker = await startBroker({
    dataDir: path.join(options.dataDir, 'broker'),
    host: options.host,
    port: options.port,
    logger: options.logger.child({ component: 'broker' }),
    groups: { initialRebalanceDelayMs: 0 },
    autoCreateTopics: false,
  });
  let registry: RunningSchemaRegistry;
  try {
    registry = await startSchemaRegistry({
      dataDir: path.join(options.dataDir, 'registry'),
      host: options.host,
      port: options.registryPort,
      logger: options.logger.child({ component: 'schema-registry' }),
    });
  } catch (error) {
    await broker.close();
    throw error;
  }
  const host = broker.host.includes(':') ? `[${broker.host}]` : broker.host;
  return {
    broker,
    registry,
    brokerAddress: `${host}:${broker.port}`,
    registryUrl: registry.url,
    async close() {
      await registry.close();
      await broker.close();
    },
  };
}
