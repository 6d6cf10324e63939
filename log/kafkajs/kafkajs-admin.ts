/** The log port's admin over kafkajs: idempotent topic set-up, offsets, groups. */
import type { Admin } from 'kafkajs';
import { LogError } from '../errors.js';
import type { GroupOffsets, LogAdmin, PartitionOffsets, TopicSpec } from '../log-client.js';

function configEntries(spec: TopicSpec): { name: string; value: string }[] {
  const entries: { name: string; value: string }[] = [];
  if (spec.retentionMs !== undefined)
    entries.push({ name: 'retention.ms', value: String(spec.retentionMs) });
  if (spec.retentionBytes !== undefined)
    entries.push({ name: 'retention.bytes', value: String(spec.retentionBytes) });
  if (spec.cleanupPolicy !== undefined)
    entries.push({ name: 'cleanup.policy', value: spec.cleanupPolicy });
  if (spec.maxMessageBytes !== undefined)
    entries.push({ name: 'max.message.bytes', value: String(spec.maxMessageBytes) });
  return entries;
}

/**
 * librdkafka's C++ API (and so @confluentinc/kafka-javascript) commits offset metadata as a
 * C string with its NUL terminator; the metadata we committed is the text before it.
 */
function withoutTerminator(metadata: string): string {
  return metadata.endsWith('\u0000') ? metadata.slice(0, -1) : metadata;
}

export class KafkajsAdmin implements LogAdmin {
  readonly #admin: Admin;
  readonly #replicationFactor: number;

  constructor(admin: Admin, replicationFactor: number) {
    this.#admin = admin;
    this.#replicationFactor = replicationFactor;
  }

  async ensureTopic(spec: TopicSpec): Promise<void> {
    try {
      const existing = await this.#partitionCount(spec.topic);
      if (existing === null) {
        const created = await this.#admin.createTopics({
          waitForLeaders: true,
          topics: [
            {
              topic: spec.topic,
              numPartitions: spec.partitions,
              replicationFactor: this.#replicationFactor,
              configEntries: configEntries(spec),
            },
          ],
        });
        // false: someone else created it first; fall through to the growth check.
        if (created) return;
      }
      const count = existing ?? (await this.#partitionCount(spec.topic)) ?? 0;
      if (count < spec.partitions) {
        await this.#admin.createPartitions({
          topicPartitions: [{ topic: spec.topic, count: spec.partitions }],
        });
      }
    } catch (error) {
      throw new LogError(
        'EXTENTLOG_ERR_LOG_TOPIC',
        `cannot create or grow topic ${spec.topic} to ${spec.partitions} partitions: ${(error as Error).message}`,
        {
          cause: error,
          details: { topic: spec.topic },
        },
      );
    }
  }

  async #partitionCount(topic: string): Promise<number | null> {
    const topics = await this.#admin.listTopics();
    if (!topics.includes(topic)) return null;
    const metadata = await this.#admin.fetchTopicMetadata({ topics: [topic] });
    return metadata.topics[0]?.partitions.length ?? 0;
  }

  async deleteTopic(topic: string): Promise<void> {
    await this.#admin.deleteTopics({ topics: [topic] });
  }

  listTopics(): Promise<string[]> {
    return this.#admin.listTopics();
  }

  async offsets(topic: string): Promise<PartitionOffsets[]> {
    // kafkajs retries an unknown topic for seconds before it gives up: ask once instead.
    if (!(await this.#admin.listTopics()).includes(topic)) {
      throw new LogError('EXTENTLOG_ERR_LOG_TOPIC', `topic ${topic} does not exist`, {
        retriable: false,
        details: { topic },
      });
    }
    try {
      const offsets = await this.#admin.fetchTopicOffsets(topic);
      return offsets
        .map((entry) => ({
          partition: entry.partition,
          startOffset: Number(entry.low),
          endOffset: Number(entry.high),
        }))
        .sort((a, b) => a.partition - b.partition);
    } catch (error) {
      throw new LogError(
        'EXTENTLOG_ERR_LOG_TOPIC',
        `cannot read the offsets of topic ${topic}: ${(error as Error).message}`,
        {
          cause: error,
          details: { topic },
        },
      );
    }
  }

  async groupOffsets(groupId: string, topic: string): Promise<GroupOffsets> {
    const [entry] = await this.#admin.fetchOffsets({ groupId, topics: [topic] });
    return {
      groupId,
      topic,
      partitions: (entry?.partitions ?? [])
        .map(({ partition, offset, metadata }) => ({
          partition,
          offset: Number(offset),
          metadata:
            metadata === null || metadata === undefined ? null : withoutTerminator(metadata),
        }))
        .sort((a, b) => a.partition - b.partition),
    };
  }

  /** Not part of the port: the range reader removes its throw-away group with it. */
  async deleteGroup(groupId: string): Promise<void> {
    await this.#admin.deleteGroups([groupId]);
  }

  async listGroups(): Promise<string[]> {
    const { groups } = await this.#admin.listGroups();
    return groups.map((group) => group.groupId).sort();
  }
}
