/**
 * The log port's group consumer over kafkajs: manual commits only, per-partition
 * pause/resume, and a batch handler that kafkajs awaits before fetching that partition
 * again — so a slow target holds its partitions back instead of buffering records.
 *
 * kafkajs reports no revocation; the assignment of each GROUP_JOIN is compared with the
 * previous one to tell the handlers which partitions were revoked and which assigned.
 */
import type { Consumer, KafkaMessage } from 'kafkajs';
import { LogError } from '../errors.js';
import type {
  ConsumedBatch,
  ConsumedMessage,
  ConsumerHandlers,
  LogConsumer,
  LogHeaders,
  TopicPartition,
  TopicPartitionOffset,
} from '../log-client.js';

export function toHeaders(headers: KafkaMessage['headers']): LogHeaders {
  const result: Record<string, Buffer> = {};
  for (const [name, value] of Object.entries(headers ?? {})) {
    if (value === undefined) continue;
    const first = Array.isArray(value) ? value[0] : value;
    if (first !== undefined) result[name] = Buffer.isBuffer(first) ? first : Buffer.from(first);
  }
  return result;
}

export function toConsumedMessage(
  topic: string,
  partition: number,
  message: KafkaMessage,
): ConsumedMessage {
  return {
    topic,
    partition,
    offset: Number(message.offset),
    key: message.key,
    value: message.value,
    headers: toHeaders(message.headers),
    timestampMs: Number(message.timestamp),
  };
}

function groupByTopic(
  partitions: readonly TopicPartition[],
): { topic: string; partitions: number[] }[] {
  const byTopic = new Map<string, number[]>();
  for (const { topic, partition } of partitions) {
    const list = byTopic.get(topic) ?? [];
    list.push(partition);
    byTopic.set(topic, list);
  }
  return [...byTopic].map(([topic, list]) => ({ topic, partitions: list }));
}

export class KafkajsConsumer implements LogConsumer {
  readonly #consumer: Consumer;
  readonly #groupId: string;
  readonly #topics: readonly string[];
  readonly #fromBeginning: boolean;
  #assigned: TopicPartition[] = [];

  constructor(
    consumer: Consumer,
    groupId: string,
    topics: readonly string[],
    fromBeginning: boolean,
  ) {
    this.#consumer = consumer;
    this.#groupId = groupId;
    this.#topics = topics;
    this.#fromBeginning = fromBeginning;
  }

  async run(handlers: ConsumerHandlers): Promise<void> {
    this.#consumer.on(this.#consumer.events.GROUP_JOIN, (event) => {
      const next: TopicPartition[] = [];
      for (const [topic, partitions] of Object.entries(event.payload.memberAssignment)) {
        for (const partition of partitions) next.push({ topic, partition });
      }
      const has = (list: TopicPartition[], item: TopicPartition) =>
        list.some((other) => other.topic === item.topic && other.partition === item.partition);
      const revoked = this.#assigned.filter((item) => !has(next, item));
      const added = next.filter((item) => !has(this.#assigned, item));
      this.#assigned = next;
      void (async () => {
        if (revoked.length > 0) await handlers.onRevoked?.(revoked);
        if (added.length > 0) await handlers.onAssigned?.(added);
      })();
    });
    for (const topic of this.#topics)
      await this.#consumer.subscribe({ topic, fromBeginning: this.#fromBeginning });
    await this.#consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: true,
      partitionsConsumedConcurrently: 64,
      eachBatch: async ({ batch, isStale }) => {
        if (isStale() || batch.messages.length === 0) return;
        const consumed: ConsumedBatch = {
          topic: batch.topic,
          partition: batch.partition,
          highWatermark: Number(batch.highWatermark),
          messages: batch.messages.map((message) =>
            toConsumedMessage(batch.topic, batch.partition, message),
          ),
        };
        await handlers.onBatch(consumed);
      },
    });
  }

  pause(partitions: readonly TopicPartition[]): void {
    this.#consumer.pause(groupByTopic(partitions));
  }

  resume(partitions: readonly TopicPartition[]): void {
    this.#consumer.resume(groupByTopic(partitions));
  }

  async commit(offsets: readonly TopicPartitionOffset[]): Promise<void> {
    try {
      await this.#consumer.commitOffsets(
        // The metadata carries a replay's resume state (its open epoch's rewind offset).
        offsets.map(({ topic, partition, offset, metadata }) => ({
          topic,
          partition,
          offset: String(offset),
          ...(metadata === undefined || metadata === null ? {} : { metadata }),
        })),
      );
    } catch (error) {
      throw new LogError(
        'EXTENTLOG_ERR_LOG_CONSUME',
        `group ${this.#groupId} could not commit offsets: ${(error as Error).message}`,
        {
          cause: error,
          details: { groupId: this.#groupId },
        },
      );
    }
  }

  seek(position: TopicPartitionOffset): void {
    this.#consumer.seek({
      topic: position.topic,
      partition: position.partition,
      offset: String(position.offset),
    });
  }

  async stop(): Promise<void> {
    await this.#consumer.disconnect();
  }
}
