/**
 * Topic configuration: Kafka's defaults, validation, and the mapping to and from Kafka's
 * config names (CreateTopics / DescribeConfigs carry `retention.ms=…` strings).
 */
import { StoreError } from './errors.js';
import type { TopicConfig } from './store.js';

const DAY_MS = 24 * 60 * 60 * 1000;

/** Kafka's broker defaults for the same settings. */
export const KAFKA_DEFAULT_TOPIC_CONFIG: TopicConfig = Object.freeze({
  retentionMs: 7 * DAY_MS,
  retentionBytes: -1,
  cleanupPolicy: 'delete',
  maxMessageBytes: 1_048_588,
  segmentBytes: 1024 * 1024 * 1024,
  segmentMs: 7 * DAY_MS,
  deleteRetentionMs: DAY_MS,
});

/** Kafka config name of each setting. */
export const TOPIC_CONFIG_NAMES: Readonly<Record<keyof TopicConfig, string>> = Object.freeze({
  retentionMs: 'retention.ms',
  retentionBytes: 'retention.bytes',
  cleanupPolicy: 'cleanup.policy',
  maxMessageBytes: 'max.message.bytes',
  segmentBytes: 'segment.bytes',
  segmentMs: 'segment.ms',
  deleteRetentionMs: 'delete.retention.ms',
});

const MAX_INT32 = 0x7fff_ffff;

/** Inclusive bounds of the numeric settings (Kafka's own where it has them). */
const NUMERIC_BOUNDS: Readonly<
  Record<Exclude<keyof TopicConfig, 'cleanupPolicy'>, [number, number]>
> = {
  retentionMs: [-1, Number.MAX_SAFE_INTEGER],
  retentionBytes: [-1, Number.MAX_SAFE_INTEGER],
  maxMessageBytes: [0, MAX_INT32],
  segmentBytes: [14, MAX_INT32],
  segmentMs: [1, Number.MAX_SAFE_INTEGER],
  deleteRetentionMs: [0, Number.MAX_SAFE_INTEGER],
};

/** Overlays `overrides` on `base` and validates the result (INVALID_CONFIG). */
export function resolveTopicConfig(
  base: TopicConfig,
  overrides: Partial<TopicConfig>,
): TopicConfig {
  const config: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(overrides))
    if (value !== undefined) {
      if (!(key in TOPIC_CONFIG_NAMES))
        throw invalid(
          `unknown topic config key ${key}; known: ${Object.keys(TOPIC_CONFIG_NAMES).join(', ')}`,
        );
      config[key] = value;
    }
  for (const [key, [min, max]] of Object.entries(NUMERIC_BOUNDS)) {
    const value = config[key];
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max)
      throw invalid(
        `${TOPIC_CONFIG_NAMES[key as keyof TopicConfig]} must be an integer in [${min}, ${max}], received ${String(value)}`,
      );
  }
  if (config.cleanupPolicy !== 'delete' && config.cleanupPolicy !== 'compact')
    throw invalid(
      `cleanup.policy must be 'delete' or 'compact', received ${String(config.cleanupPolicy)}`,
    );
  return Object.freeze(config as unknown as TopicConfig);
}

/**
 * Kafka configs a client may send that this single-node broker accepts without acting on
 * them (replication and compression settings that have one possible meaning here).
 */
const ACCEPTED_WITHOUT_EFFECT = new Set([
  'min.insync.replicas',
  'unclean.leader.election.enable',
  'compression.type',
  'message.downconversion.enable',
  'min.compaction.lag.ms',
  'min.cleanable.dirty.ratio',
]);

/** Parses CreateTopics/AlterConfigs entries (`name → string value`, null = default). */
export function parseTopicConfigEntries(
  entries: Iterable<readonly [string, string | null]>,
): Partial<TopicConfig> {
  const byName = new Map(Object.entries(TOPIC_CONFIG_NAMES).map(([key, name]) => [name, key]));
  const parsed: Record<string, unknown> = {};
  for (const [name, value] of entries) {
    if (value === null || ACCEPTED_WITHOUT_EFFECT.has(name)) continue;
    if (name === 'message.timestamp.type') {
      if (value !== 'CreateTime')
        throw invalid(
          `message.timestamp.type ${value} is not supported; this broker keeps CreateTime`,
        );
      continue;
    }
    const key = byName.get(name);
    if (key === undefined)
      throw invalid(`unknown topic config ${name}; supported: ${[...byName.keys()].join(', ')}`);
    if (key === 'cleanupPolicy') parsed[key] = value;
    else {
      const number = Number(value);
      if (value.trim() === '' || !Number.isInteger(number))
        throw invalid(`${name} must be an integer, received '${value}'`);
      parsed[key] = number;
    }
  }
  return parsed as Partial<TopicConfig>;
}

/** The config as Kafka name → string value (DescribeConfigs). */
export function topicConfigEntries(config: TopicConfig): Record<string, string> {
  return Object.fromEntries(
    Object.entries(TOPIC_CONFIG_NAMES).map(([key, name]) => [
      name,
      String(config[key as keyof TopicConfig]),
    ]),
  );
}

function invalid(message: string): StoreError {
  return new StoreError('INVALID_CONFIG', message);
}
