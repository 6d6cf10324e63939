/**
 * CreateTopics, DeleteTopics and CreatePartitions. Single node: the replication factor
 * must be 1 (or -1, the default) and manual assignments may only name this node.
 */
import {
  decodeCreatePartitionsRequest,
  encodeCreatePartitionsResponse,
} from '../protocol/create-partitions.js';
import {
  decodeCreateTopicsRequest,
  encodeCreateTopicsResponse,
} from '../protocol/create-topics.js';
import type { CreatableTopic, TopicResult } from '../protocol/create-topics.js';
import {
  decodeDeleteTopicsRequest,
  encodeDeleteTopicsResponse,
} from '../protocol/delete-topics.js';
import { errorCode, type KafkaErrorName } from '../protocol/error-codes.js';
import { StoreError, type TopicConfig } from '../storage/store.js';
import { parseTopicConfigEntries, resolveTopicConfig } from '../storage/topic-config.js';
import { validateTopicName } from '../storage/topic-name.js';
import { kafkaErrorOf } from './kafka-error-of.js';
import type { BrokerContext, RequestContext } from './request-context.js';

type Checked =
  | { readonly ok: true; readonly partitions: number; readonly config: TopicConfig }
  | { readonly ok: false; readonly result: TopicResult };

const refuse = (name: string, error: KafkaErrorName, message: string): Checked => ({
  ok: false,
  result: { name, errorCode: errorCode(error), errorMessage: message },
});

function checkCreatable(broker: BrokerContext, topic: CreatableTopic): Checked {
  const { name } = topic;
  if (broker.store.topic(name) !== undefined) {
    return refuse(name, 'TOPIC_ALREADY_EXISTS', `topic '${name}' already exists`);
  }
  if (topic.replicationFactor !== 1 && topic.replicationFactor !== -1) {
    return refuse(
      name,
      'INVALID_REPLICATION_FACTOR',
      `replication factor ${topic.replicationFactor}: this single-node broker supports only 1`,
    );
  }
  let partitions = topic.numPartitions === -1 ? broker.defaultPartitions : topic.numPartitions;
  if (topic.assignments.length > 0) {
    if (topic.numPartitions !== -1) {
      return refuse(name, 'INVALID_REQUEST', 'give either num_partitions or assignments, not both');
    }
    const foreign = topic.assignments.some(
      (entry) => entry.brokerIds.length !== 1 || entry.brokerIds[0] !== broker.nodeId,
    );
    if (foreign) {
      return refuse(
        name,
        'INVALID_REPLICA_ASSIGNMENT',
        `assignments may only name node ${broker.nodeId}`,
      );
    }
    partitions = topic.assignments.length;
  }
  if (partitions <= 0) {
    return refuse(
      name,
      'INVALID_PARTITIONS',
      `partition count ${topic.numPartitions}: expected at least 1`,
    );
  }
  // Validation the store repeats on create, done here too so validate_only answers the same.
  try {
    validateTopicName(name);
    const overrides = parseTopicConfigEntries(topic.configs.map((c) => [c.name, c.value] as const));
    return { ok: true, partitions, config: resolveTopicConfig(broker.topicDefaults, overrides) };
  } catch (error) {
    if (!(error instanceof StoreError)) throw error;
    return refuse(name, error.kafkaError, error.message);
  }
}

export async function handleCreateTopics({ reader, writer, version, broker }: RequestContext) {
  const request = decodeCreateTopicsRequest(reader, version);
  const counts = new Map<string, number>();
  for (const topic of request.topics) counts.set(topic.name, (counts.get(topic.name) ?? 0) + 1);
  const results = await Promise.all(
    request.topics.map(async (topic): Promise<TopicResult> => {
      const { name } = topic;
      if ((counts.get(name) ?? 0) > 1) {
        return {
          name,
          errorCode: errorCode('INVALID_REQUEST'),
          errorMessage: `topic '${name}' appears more than once`,
        };
      }
      const checked = checkCreatable(broker, topic);
      if (!checked.ok) return checked.result;
      if (request.validateOnly) return { name, errorCode: 0, errorMessage: null };
      try {
        await broker.store.createTopic(name, checked.partitions, checked.config);
        broker.logger.info({ topic: name, partitions: checked.partitions }, 'topic created');
        return { name, errorCode: 0, errorMessage: null };
      } catch (error) {
        return { name, errorCode: kafkaErrorOf(error), errorMessage: (error as Error).message };
      }
    }),
  );
  encodeCreateTopicsResponse(writer, version, results);
}

export async function handleDeleteTopics({ reader, writer, version, broker }: RequestContext) {
  const request = decodeDeleteTopicsRequest(reader, version);
  const results = await Promise.all(
    request.topicNames.map(async (name) => {
      if (broker.store.topic(name) === undefined) {
        return { name, errorCode: errorCode('UNKNOWN_TOPIC_OR_PARTITION') };
      }
      try {
        await broker.store.deleteTopic(name);
        broker.logger.info({ topic: name }, 'topic deleted');
        return { name, errorCode: 0 };
      } catch (error) {
        return { name, errorCode: kafkaErrorOf(error) };
      }
    }),
  );
  encodeDeleteTopicsResponse(writer, version, results);
}

export async function handleCreatePartitions({ reader, writer, version, broker }: RequestContext) {
  const request = decodeCreatePartitionsRequest(reader, version);
  const results = await Promise.all(
    request.topics.map(async ({ name, count, assignments }): Promise<TopicResult> => {
      const fail = (error: KafkaErrorName, message: string) => ({
        name,
        errorCode: errorCode(error),
        errorMessage: message,
      });
      const topic = broker.store.topic(name);
      if (topic === undefined)
        return fail('UNKNOWN_TOPIC_OR_PARTITION', `topic '${name}' does not exist`);
      if (count <= topic.partitions) {
        return fail(
          'INVALID_PARTITIONS',
          `topic '${name}' has ${topic.partitions} partitions: expected a larger count than ${count}`,
        );
      }
      if (assignments !== null) {
        const valid =
          assignments.length === count - topic.partitions &&
          assignments.every((ids) => ids.length === 1 && ids[0] === broker.nodeId);
        if (!valid) {
          return fail(
            'INVALID_REPLICA_ASSIGNMENT',
            `expected ${count - topic.partitions} assignments naming node ${broker.nodeId}`,
          );
        }
      }
      if (request.validateOnly) return { name, errorCode: 0, errorMessage: null };
      try {
        await broker.store.createPartitions(name, count);
        broker.logger.info({ topic: name, partitions: count }, 'topic grown');
        return { name, errorCode: 0, errorMessage: null };
      } catch (error) {
        return { name, errorCode: kafkaErrorOf(error), errorMessage: (error as Error).message };
      }
    }),
  );
  encodeCreatePartitionsResponse(writer, version, results);
}
