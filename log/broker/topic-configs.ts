/**
 * Topic configuration as Kafka names it (`retention.ms`, `cleanup.policy`, …) mapped to the
 * store's `TopicConfig`. CreateTopics validates against this table, DescribeConfigs reports
 * from it; a name not listed here is INVALID_CONFIG.
 */
import type { TopicConfig } from './storage/store.js';

interface ConfigEntry {
  readonly field: keyof TopicConfig;
  /** Parses a Kafka config value; returns undefined when the value is invalid. */
  parse(value: string): TopicConfig[keyof TopicConfig] | undefined;
  /** The broker-level name DescribeConfigs reports the default under. */
  readonly brokerName: string;
}

const integer =
  (min: number) =>
  (value: string): number | undefined => {
    if (!/^-?\d+$/.test(value.trim())) return undefined;
    const parsed = Number(value);
    return Number.isSafeInteger(parsed) && parsed >= min ? parsed : undefined;
  };

export const TOPIC_CONFIGS: Readonly<Record<string, ConfigEntry>> = {
  'retention.ms': { field: 'retentionMs', parse: integer(-1), brokerName: 'log.retention.ms' },
  'retention.bytes': {
    field: 'retentionBytes',
    parse: integer(-1),
    brokerName: 'log.retention.bytes',
  },
  'cleanup.policy': {
    field: 'cleanupPolicy',
    parse: (value) => (value === 'delete' || value === 'compact' ? value : undefined),
    brokerName: 'log.cleanup.policy',
  },
  'max.message.bytes': {
    field: 'maxMessageBytes',
    parse: integer(0),
    brokerName: 'message.max.bytes',
  },
  'segment.bytes': { field: 'segmentBytes', parse: integer(14), brokerName: 'log.segment.bytes' },
};

export const DEFAULT_TOPIC_CONFIG: TopicConfig = {
  retentionMs: 7 * 24 * 3600 * 1000,
  retentionBytes: -1,
  cleanupPolicy: 'delete',
  maxMessageBytes: 8 * 1024 * 1024,
  segmentBytes: 1024 * 1024 * 1024,
};

export type ParsedTopicConfig =
  | { readonly ok: true; readonly config: TopicConfig }
  | { readonly ok: false; readonly message: string };

/** Overlays Kafka-named settings on the defaults; the first invalid one fails the whole set. */
export function parseTopicConfig(
  entries: readonly { name: string; value: string | null }[],
  defaults: TopicConfig,
): ParsedTopicConfig {
  const config: Record<string, unknown> = { ...defaults };
  for (const { name, value } of entries) {
    const entry = TOPIC_CONFIGS[name];
    if (entry === undefined) {
      return {
        ok: false,
        message: `unknown topic config '${name}': expected one of ${Object.keys(TOPIC_CONFIGS).join(', ')}`,
      };
    }
    if (value === null) continue;
    const parsed = entry.parse(value);
    if (parsed === undefined) {
      return { ok: false, message: `invalid value '${value}' for topic config '${name}'` };
    }
    config[entry.field] = parsed;
  }
  return { ok: true, config: config as unknown as TopicConfig };
}
