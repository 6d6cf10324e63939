/**
 * Metadata: this node leads every partition. Unknown topics are created on request when
 * auto-creation is on (Kafka's auto.create.topics.enable), as kcat and console producers
 * expect.
 */
import { decodeMetadataRequest, encodeMetadataResponse } from '../protocol/metadata.js';
import type { MetadataTopic } from '../protocol/metadata.js';
import { errorCode } from '../protocol/error-codes.js';
import type { TopicMetadata } from '../storage/store.js';
import { kafkaErrorOf } from './kafka-error-of.js';
import type { BrokerContext, RequestContext } from './request-context.js';

export async function handleMetadata({ reader, writer, version, broker }: RequestContext) {
  const request = decodeMetadataRequest(reader, version);
  const names = request.topics ?? broker.store.topics().map((topic) => topic.name);
  const topics = await Promise.all(
    names.map((name) =>
      describeTopic(broker, name, broker.autoCreateTopics && request.allowAutoTopicCreation),
    ),
  );
  const { host, port } = broker.advertised();
  encodeMetadataResponse(writer, version, {
    broker: { nodeId: broker.nodeId, host, port },
    clusterId: broker.clusterId,
    topics,
  });
}

async function describeTopic(
  broker: BrokerContext,
  name: string,
  autoCreate: boolean,
): Promise<MetadataTopic> {
  let topic = broker.store.topic(name);
  if (topic === undefined && autoCreate) {
    try {
      topic = await broker.store.createTopic(name, broker.defaultPartitions, broker.topicDefaults);
      broker.logger.info({ topic: name }, 'topic auto-created');
    } catch (error) {
      topic = broker.store.topic(name); // created concurrently by another request
      if (topic === undefined) return { errorCode: kafkaErrorOf(error), name, partitions: [] };
    }
  }
  if (topic === undefined) {
    return { errorCode: errorCode('UNKNOWN_TOPIC_OR_PARTITION'), name, partitions: [] };
  }
  return { errorCode: 0, name, partitions: partitionsOf(topic) };
}

function partitionsOf(topic: TopicMetadata) {
  return Array.from({ length: topic.partitions }, (_, partition) => ({ errorCode: 0, partition }));
}
