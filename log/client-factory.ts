/**
 * Builds the `LogClient` for a Kafka connection. This is the one place that decides which
 * client library talks to Kafka; everything else sees the port in `log-client.ts`.
 *
 * Two drivers: kafkajs (always installed) and librdkafka (optional, a separately installed
 * sub-package; several times less CPU per byte produced). Topic administration always goes
 * through kafkajs; with librdkafka chosen, producers, consumers and range reads use it.
 */
import { createKafkajsClient } from './kafkajs/kafkajs-client.js';
import { LogError } from './errors.js';
import { createLibrdkafkaDataPath, type LogDataPath } from './librdkafka/librdkafka-client.js';
import { librdkafkaAvailability, requireLibrdkafka } from './librdkafka/load-librdkafka.js';
import type { ConsumerOptions, LogAdmin, LogClient } from './log-client.js';
import type { LogClientOptions, LogDriver } from './log-client-options.js';

export type { LogClientOptions, LogDriver, LogDriverChoice } from './log-client-options.js';

export interface DriverLogClient extends LogClient {
  /** The driver behind producers, consumers and range reads. */
  readonly driver: LogDriver;
}

/** The driver `choice` stands for on this installation ('auto': librdkafka when installed). */
export function resolveLogDriver(choice: LogClientOptions['driver'] = 'auto'): LogDriver {
  if (choice !== 'auto') return choice;
  return librdkafkaAvailability().available ? 'librdkafka' : 'kafkajs';
}

export async function createLogClient(options: LogClientOptions): Promise<DriverLogClient> {
  const choice = options.driver ?? 'auto';
  const driver = resolveLogDriver(choice);
  // Fails before connecting when librdkafka was asked for and is not there.
  const rdkafka = driver === 'librdkafka' ? requireLibrdkafka() : null;
  const kafkajsClient = await createKafkajsClient(options);
  const { admin } = kafkajsClient;
  const startLog = {
    driver,
    choice,
    ...(rdkafka === null ? {} : { librdkafka: rdkafka.librdkafkaVersion }),
  };
  if (choice === 'auto' && rdkafka === null) {
    const why = librdkafkaAvailability();
    options.logger.info(
      { ...startLog, ...(why.available ? {} : { librdkafkaMissing: why.reason }) },
      'log driver: kafkajs (librdkafka is not installed: scripts/setup.sh --librdkafka)',
    );
  } else {
    options.logger.info(startLog, `log driver: ${driver}`);
  }
  let dataPath: LogDataPath = kafkajsClient;
  try {
    if (rdkafka !== null) dataPath = createLibrdkafkaDataPath(rdkafka, options, admin);
  } catch (error) {
    await kafkajsClient.close();
    throw error;
  }
  return {
    driver,
    admin,
    producer: (producerOptions) => dataPath.producer(producerOptions),
    async consumer(consumerOptions: ConsumerOptions) {
      await assertTopicsExist(admin, consumerOptions);
      return dataPath.consumer(consumerOptions);
    },
    readRange: (rangeOptions) => dataPath.readRange(rangeOptions),
    async close() {
      if (dataPath !== kafkajsClient) await dataPath.close();
      await kafkajsClient.close();
    },
  };
}

/**
 * kafkajs refuses to subscribe to a topic that does not exist, librdkafka waits for it and
 * reports an error per consume: both drivers fail the same way, up front.
 */
async function assertTopicsExist(admin: LogAdmin, options: ConsumerOptions): Promise<void> {
  const existing = new Set(await admin.listTopics());
  const missing = options.topics.filter((topic) => !existing.has(topic));
  if (missing.length > 0) {
    throw new LogError(
      'EXTENTLOG_ERR_LOG_TOPIC',
      `group ${options.groupId} cannot consume ${missing.join(', ')}: no such topic (create it first, e.g. by starting its feed)`,
      { details: { groupId: options.groupId, topics: missing } },
    );
  }
}
