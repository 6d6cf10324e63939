/**
 * DescribeConfigs for topics (their five settings) and for this broker (the defaults new
 * topics get, and the group settings). Broker configs are read-only: nothing alters them
 * at run time.
 */
import {
  CONFIG_SOURCE_DEFAULT,
  CONFIG_SOURCE_STATIC_BROKER,
  CONFIG_SOURCE_TOPIC,
  decodeDescribeConfigsRequest,
  encodeDescribeConfigsResponse,
  RESOURCE_TYPE_BROKER,
  RESOURCE_TYPE_TOPIC,
} from '../protocol/describe-configs.js';
import type {
  ConfigResource,
  DescribeConfigsResult,
  DescribedConfig,
} from '../protocol/describe-configs.js';
import { errorCode } from '../protocol/error-codes.js';
import type { TopicConfig } from '../storage/store.js';
import { TOPIC_CONFIG_NAMES } from '../storage/topic-config.js';
import type { BrokerContext, RequestContext } from './request-context.js';

export function handleDescribeConfigs({ reader, writer, version, broker }: RequestContext): void {
  const resources = decodeDescribeConfigsRequest(reader, version);
  encodeDescribeConfigsResponse(
    writer,
    version,
    resources.map((resource) => describe(broker, resource)),
  );
}

/** The broker-level names of the topic defaults (Kafka's `log.*` settings). */
const BROKER_NAMES: Readonly<Record<keyof TopicConfig, string>> = {
  retentionMs: 'log.retention.ms',
  retentionBytes: 'log.retention.bytes',
  cleanupPolicy: 'log.cleanup.policy',
  maxMessageBytes: 'message.max.bytes',
  segmentBytes: 'log.segment.bytes',
  segmentMs: 'log.roll.ms',
  deleteRetentionMs: 'log.cleaner.delete.retention.ms',
};

const FIELDS = Object.keys(TOPIC_CONFIG_NAMES) as (keyof TopicConfig)[];

function describe(broker: BrokerContext, resource: ConfigResource): DescribeConfigsResult {
  const { resourceType, resourceName } = resource;
  const result = (configs: DescribedConfig[]) => ({
    errorCode: 0,
    errorMessage: null,
    resourceType,
    resourceName,
    configs: configs.filter(
      (config) => resource.configNames === null || resource.configNames.includes(config.name),
    ),
  });
  const fail = (code: number, message: string) => ({
    errorCode: code,
    errorMessage: message,
    resourceType,
    resourceName,
    configs: [],
  });
  if (resourceType === RESOURCE_TYPE_TOPIC) {
    const topic = broker.store.topic(resourceName);
    if (topic === undefined) {
      return fail(
        errorCode('UNKNOWN_TOPIC_OR_PARTITION'),
        `topic '${resourceName}' does not exist`,
      );
    }
    return result(
      FIELDS.map((field) => {
        const value = topic.config[field];
        const isDefault = value === broker.topicDefaults[field];
        return {
          name: TOPIC_CONFIG_NAMES[field],
          value: String(value),
          readOnly: false,
          source: isDefault ? CONFIG_SOURCE_DEFAULT : CONFIG_SOURCE_TOPIC,
        };
      }),
    );
  }
  if (resourceType === RESOURCE_TYPE_BROKER) {
    if (resourceName !== '' && resourceName !== String(broker.nodeId)) {
      return fail(
        errorCode('INVALID_REQUEST'),
        `broker '${resourceName}' is not this node (${broker.nodeId})`,
      );
    }
    const configs: [string, string][] = [
      ['broker.id', String(broker.nodeId)],
      ['auto.create.topics.enable', String(broker.autoCreateTopics)],
      ['num.partitions', String(broker.defaultPartitions)],
      ...FIELDS.map((field): [string, string] => [
        BROKER_NAMES[field],
        String(broker.topicDefaults[field]),
      ]),
    ];
    return result(
      configs.map(([name, value]) => ({
        name,
        value,
        readOnly: true,
        source: CONFIG_SOURCE_STATIC_BROKER,
      })),
    );
  }
  return fail(
    errorCode('INVALID_REQUEST'),
    `resource type ${resourceType}: expected 2 (topic) or 4 (broker)`,
  );
}
