/**
 * The embedded broker's durable store: topics, partition logs, committed offsets and
 * producer ids in one data directory (single node, single process).
 *
 *   <dataDir>/
 *     store.lock                pid of the process that has the store open
 *     clean-shutdown            present only between a clean close and the next open
 *     producer-ids              producer-id reservation (producer-id-allocator.ts)
 *     offsets/commits.log       committed offsets journal (offset-store.ts)
 *     topics/<topic>/topic.json metadata (topic-registry.ts)
 *     topics/<topic>/<n>/       partition n:
 *         <baseOffset:20>.log        record batches (segment.ts)
 *         <baseOffset:20>.index      sparse offset/time index (offset-index.ts)
 *         <offset:20>.snapshot       producer state below that offset (producer-state.ts)
 *     staging/  deleting/       topics half created / half deleted (cleared on open)
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { describeError } from '../../../errors/extentlog-error.js';
import {
  claimDataDirectory,
  consumeCleanShutdownMarker,
  markCleanShutdown,
  releaseDataDirectory,
} from './data-directory.js';
import { removeTree } from './durable-file.js';
import { StoreError } from './errors.js';
import { OffsetStore } from './offset-store.js';
import { DiskPartitionLog } from './partition-log.js';
import { recoverPartition } from './partition-recovery.js';
import { ProducerIdAllocator } from './producer-id-allocator.js';
import { enforcePartitionRetention } from './retention.js';
import type {
  BrokerStore,
  BrokerStoreOptions,
  CommittedOffset,
  PartitionLog,
  StoreLogger,
  TopicConfig,
  TopicMetadata,
} from './store.js';
import { KAFKA_DEFAULT_TOPIC_CONFIG, resolveTopicConfig } from './topic-config.js';
import { topicCollisionKey, validateTopicName } from './topic-name.js';
import { TopicRegistry } from './topic-registry.js';

const DEFAULT_FLUSH_INTERVAL_MS = 10;
const DEFAULT_INDEX_INTERVAL_BYTES = 4096;
const DEFAULT_PRODUCER_ID_EXPIRATION_MS = 7 * 24 * 60 * 60 * 1000;
/** Kafka's limit on partitions per topic is a broker setting; this one keeps a typo from creating 10^9 directories. */
const MAX_PARTITIONS = 10_000;
const SILENT_LOGGER: StoreLogger = { info() {}, warn() {}, error() {} };

interface OpenTopic {
  metadata: TopicMetadata;
  readonly partitions: DiskPartitionLog[];
}

interface StoreSettings {
  readonly logger: StoreLogger;
  readonly defaults: TopicConfig;
  readonly flushIntervalMs: number;
  readonly indexIntervalBytes: number;
  readonly producerIdExpirationMs: number;
}

export async function openBrokerStore(options: BrokerStoreOptions): Promise<BrokerStore> {
  const dataDir = path.resolve(options.dataDir);
  const settings: StoreSettings = {
    logger: options.logger ?? SILENT_LOGGER,
    defaults: resolveTopicConfig(KAFKA_DEFAULT_TOPIC_CONFIG, options.defaultTopicConfig ?? {}),
    flushIntervalMs: options.flushIntervalMs ?? DEFAULT_FLUSH_INTERVAL_MS,
    indexIntervalBytes: options.indexIntervalBytes ?? DEFAULT_INDEX_INTERVAL_BYTES,
    producerIdExpirationMs: options.producerIdExpirationMs ?? DEFAULT_PRODUCER_ID_EXPIRATION_MS,
  };
  await mkdir(dataDir, { recursive: true }).catch((error: unknown) => {
    throw storageError(
      `cannot create the data directory ${dataDir}: ${describeError(error)}`,
      dataDir,
      error,
    );
  });
  await claimDataDirectory(dataDir);
  let store: DiskBrokerStore | undefined;
  try {
    const cleanShutdown = await consumeCleanShutdownMarker(dataDir);
    store = new DiskBrokerStore(
      dataDir,
      settings,
      new TopicRegistry(dataDir),
      await OffsetStore.open(path.join(dataDir, 'offsets'), settings.logger),
      await ProducerIdAllocator.open(dataDir),
    );
    await store.load(cleanShutdown);
    settings.logger.info(
      { dataDir, cleanShutdown, topics: store.topics().length },
      'broker store open',
    );
    return store;
  } catch (error) {
    await store?.abandon();
    await releaseDataDirectory(dataDir);
    if (error instanceof StoreError) throw error;
    throw storageError(
      `cannot open the store in ${dataDir}: ${describeError(error)}`,
      dataDir,
      error,
    );
  }
}

class DiskBrokerStore implements BrokerStore {
  private readonly open = new Map<string, OpenTopic>();
  /** Topic creation, growth and deletion run one at a time. */
  private adminChain: Promise<unknown> = Promise.resolve();
  private retentionRunning: Promise<void> | null = null;
  private closed = false;

  constructor(
    readonly dataDir: string,
    private readonly settings: StoreSettings,
    private readonly registry: TopicRegistry,
    private readonly offsets: OffsetStore,
    private readonly producerIds: ProducerIdAllocator,
  ) {}

  async load(cleanShutdown: boolean): Promise<void> {
    for (const metadata of await this.registry.open(this.settings.defaults, this.settings.logger)) {
      for (const stray of await this.registry.strayPartitionDirectories(metadata))
        await removeTree(stray);
      const partitions: DiskPartitionLog[] = [];
      for (let partition = 0; partition < metadata.partitions; partition += 1)
        partitions.push(await this.openPartition(metadata.name, partition, cleanShutdown));
      this.open.set(metadata.name, { metadata, partitions });
    }
  }

  topics(): readonly TopicMetadata[] {
    return [...this.open.values()].map((topic) => topic.metadata);
  }

  topic(name: string): TopicMetadata | undefined {
    return this.open.get(name)?.metadata;
  }

  createTopic(
    name: string,
    partitions: number,
    config: Partial<TopicConfig>,
  ): Promise<TopicMetadata> {
    return this.admin(async () => {
      validateTopicName(name);
      if (this.open.has(name))
        throw new StoreError('TOPIC_ALREADY_EXISTS', `topic ${name} already exists`, {
          topic: name,
        });
      const collision = [...this.open.keys()].find(
        (other) => topicCollisionKey(other) === topicCollisionKey(name),
      );
      if (collision !== undefined)
        throw new StoreError(
          'INVALID_TOPIC_EXCEPTION',
          `topic ${name} collides with existing topic ${collision}: names differing only in '.' and '_' cannot coexist`,
          { topic: name, collision },
        );
      checkPartitionCount(name, partitions, 1);
      const metadata: TopicMetadata = Object.freeze({
        name,
        partitions,
        config: resolveTopicConfig(this.settings.defaults, config),
        createdAtMs: Date.now(),
      });
      await this.registry.create(metadata);
      const logs: DiskPartitionLog[] = [];
      for (let partition = 0; partition < partitions; partition += 1)
        logs.push(await this.openPartition(name, partition, false));
      this.open.set(name, { metadata, partitions: logs });
      this.settings.logger.info({ topic: name, partitions }, 'topic created');
      return metadata;
    });
  }

  createPartitions(name: string, totalCount: number): Promise<TopicMetadata> {
    return this.admin(async () => {
      const topic = this.requireTopic(name);
      const previous = topic.metadata.partitions;
      checkPartitionCount(name, totalCount, previous + 1);
      const metadata = Object.freeze({ ...topic.metadata, partitions: totalCount });
      await this.registry.grow(metadata, previous);
      for (let partition = previous; partition < totalCount; partition += 1)
        topic.partitions.push(await this.openPartition(name, partition, false));
      topic.metadata = metadata;
      return metadata;
    });
  }

  deleteTopic(name: string): Promise<void> {
    return this.admin(async () => {
      const topic = this.requireTopic(name);
      this.open.delete(name);
      await Promise.all(topic.partitions.map((partition) => partition.abandon()));
      await this.registry.remove(name);
      await this.offsets.deleteTopic(name);
      this.settings.logger.info({ topic: name }, 'topic deleted');
    });
  }

  partition(topic: string, partition: number): PartitionLog | undefined {
    return this.open.get(topic)?.partitions[partition];
  }

  async allocateProducerId(): Promise<{ producerId: number; producerEpoch: number }> {
    try {
      return { producerId: await this.producerIds.allocate(), producerEpoch: 0 };
    } catch (error) {
      throw storageError(
        `cannot reserve producer ids in ${this.dataDir}: ${describeError(error)}`,
        this.dataDir,
        error,
      );
    }
  }

  async commitOffsets(
    groupId: string,
    offsets: readonly Omit<CommittedOffset, 'commitTimestampMs'>[],
  ): Promise<void> {
    try {
      await this.offsets.commit(groupId, offsets);
    } catch (error) {
      throw storageError(
        `cannot commit offsets of group ${groupId}: ${describeError(error)}`,
        this.dataDir,
        error,
      );
    }
  }

  fetchOffsets(groupId: string, topics?: readonly string[]): readonly CommittedOffset[] {
    return this.offsets.fetch(groupId, topics);
  }

  offsetGroups(): readonly string[] {
    return this.offsets.groupIds();
  }

  async deleteGroupOffsets(groupId: string): Promise<void> {
    try {
      await this.offsets.deleteGroup(groupId);
    } catch (error) {
      throw storageError(
        `cannot delete offsets of group ${groupId}: ${describeError(error)}`,
        this.dataDir,
        error,
      );
    }
  }

  enforceRetention(nowMs: number): Promise<void> {
    // Overlapping calls share the running pass rather than racing on the same segments.
    this.retentionRunning ??= this.retentionPass(nowMs).finally(() => {
      this.retentionRunning = null;
    });
    return this.retentionRunning;
  }

  diskUsageBytes(): number {
    let total = this.offsets.journalBytes();
    for (const topic of this.open.values())
      for (const partition of topic.partitions) total += partition.sizeBytes();
    return total;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.adminChain;
    await this.retentionRunning;
    const partitions = [...this.open.values()].flatMap((topic) => topic.partitions);
    const results = await Promise.allSettled([
      ...partitions.map((partition) => partition.close()),
      this.offsets.close(),
    ]);
    const failed = results.find(
      (result): result is PromiseRejectedResult => result.status === 'rejected',
    );
    try {
      if (failed !== undefined)
        throw storageError(
          `closing the store in ${this.dataDir} failed: ${describeError(failed.reason)}`,
          this.dataDir,
          failed.reason,
        );
      await markCleanShutdown(this.dataDir);
    } finally {
      await releaseDataDirectory(this.dataDir);
      this.settings.logger.info(
        { dataDir: this.dataDir, clean: failed === undefined },
        'broker store closed',
      );
    }
  }

  /** Releases what a failed open had opened, writing nothing. */
  async abandon(): Promise<void> {
    this.closed = true;
    const partitions = [...this.open.values()].flatMap((topic) => topic.partitions);
    await Promise.allSettled([
      ...partitions.map((partition) => partition.abandon()),
      this.offsets.close(),
    ]);
  }

  private async retentionPass(nowMs: number): Promise<void> {
    for (const topic of [...this.open.values()])
      for (const partition of topic.partitions) {
        if (this.closed) return;
        try {
          await enforcePartitionRetention(partition, topic.metadata.config, nowMs, this.settings);
        } catch (error) {
          this.settings.logger.error(
            { topic: partition.topic, partition: partition.partition, error: describeError(error) },
            'retention failed for a partition',
          );
        }
      }
  }

  private async openPartition(
    topic: string,
    partition: number,
    cleanShutdown: boolean,
  ): Promise<DiskPartitionLog> {
    const location = {
      topic,
      partition,
      directory: this.registry.partitionDirectory(topic, partition),
    };
    const recovered = await recoverPartition(location, {
      cleanShutdown,
      indexIntervalBytes: this.settings.indexIntervalBytes,
      logger: this.settings.logger,
    });
    return new DiskPartitionLog(location, recovered, {
      config: () => this.open.get(topic)?.metadata.config ?? this.settings.defaults,
      indexIntervalBytes: this.settings.indexIntervalBytes,
      flushIntervalMs: this.settings.flushIntervalMs,
      logger: this.settings.logger,
    });
  }

  private requireTopic(name: string): OpenTopic {
    const topic = this.open.get(name);
    if (topic === undefined)
      throw new StoreError('UNKNOWN_TOPIC_OR_PARTITION', `topic ${name} does not exist`, {
        topic: name,
      });
    return topic;
  }

  private admin<T>(operation: () => Promise<T>): Promise<T> {
    const run = this.adminChain.then(async () => {
      if (this.closed) throw storageError(`the store in ${this.dataDir} is closed`, this.dataDir);
      try {
        return await operation();
      } catch (error) {
        if (error instanceof StoreError) throw error;
        throw storageError(
          `topic operation failed in ${this.dataDir}: ${describeError(error)}`,
          this.dataDir,
          error,
        );
      }
    });
    this.adminChain = run.catch(() => undefined);
    return run;
  }
}

function checkPartitionCount(topic: string, count: number, minimum: number): void {
  if (!Number.isInteger(count) || count < minimum || count > MAX_PARTITIONS)
    throw new StoreError(
      'INVALID_PARTITIONS',
      `topic ${topic}: partition count must be an integer in [${minimum}, ${MAX_PARTITIONS}], received ${count}`,
      { topic, partitions: count },
    );
}

function storageError(message: string, dataDir: string, cause?: unknown): StoreError {
  return new StoreError(
    'KAFKA_STORAGE_ERROR',
    message,
    { dataDir },
    cause === undefined ? {} : { cause },
  );
}
