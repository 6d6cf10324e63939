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
import { TOPIC_CONFIGS } from '../topic-configs.js';
import type { BrokerContext, RequestContext } from './request-context.js';

export function handleDescribeConfigs({ reader, writer, version, broker }: RequestContext): void {
  const resources = decodeDescribeConfigsRequest(reader, version);
  encodeDescribeConfigsResponse(
    writer,
    version,
    resources.map((resource) => describe(broker, resource)),
  );
}

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
      Object.entries(TOPIC_CONFIGS).map(([name, entry]) => {
        const value = topic.config[entry.field];
        const isDefault = value === broker.topicDefaults[entry.field];
        return {
          name,
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
      ...Object.values(TOPIC_CONFIGS).map((entry): [string, string] => [
        entry.brokerName,
        String(broker.topicDefaults[entry.field]),
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
