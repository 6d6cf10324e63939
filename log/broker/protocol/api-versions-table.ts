/**
 * The API keys and versions this broker speaks: every one non-flexible (no compact
 * strings, no tagged fields), which keeps kafkajs 2.2, librdkafka 2.0 and kafka-python 2.0
 * on the classic encodings. ApiVersions answers with exactly this table.
 */

export const API_KEYS = {
  Produce: 0,
  Fetch: 1,
  ListOffsets: 2,
  Metadata: 3,
  OffsetCommit: 8,
  OffsetFetch: 9,
  FindCoordinator: 10,
  JoinGroup: 11,
  Heartbeat: 12,
  LeaveGroup: 13,
  SyncGroup: 14,
  DescribeGroups: 15,
  ListGroups: 16,
  SaslHandshake: 17,
  ApiVersions: 18,
  CreateTopics: 19,
  DeleteTopics: 20,
  InitProducerId: 22,
  DescribeConfigs: 32,
  SaslAuthenticate: 36,
  CreatePartitions: 37,
  DeleteGroups: 42,
} as const;

export type ApiName = keyof typeof API_KEYS;

export interface ApiVersionRange {
  readonly apiKey: number;
  readonly name: ApiName;
  readonly minVersion: number;
  readonly maxVersion: number;
}

const RANGES: Record<ApiName, readonly [min: number, max: number]> = {
  Produce: [3, 7],
  Fetch: [4, 11],
  ListOffsets: [1, 3],
  Metadata: [0, 6],
  OffsetCommit: [0, 7],
  OffsetFetch: [1, 5],
  FindCoordinator: [0, 2],
  JoinGroup: [0, 5],
  Heartbeat: [0, 3],
  LeaveGroup: [0, 3],
  SyncGroup: [0, 3],
  DescribeGroups: [0, 2],
  ListGroups: [0, 2],
  SaslHandshake: [0, 1],
  ApiVersions: [0, 2],
  CreateTopics: [0, 3],
  DeleteTopics: [0, 1],
  InitProducerId: [0, 1],
  DescribeConfigs: [0, 2],
  SaslAuthenticate: [0, 1],
  CreatePartitions: [0, 1],
  DeleteGroups: [0, 1],
};

export const SUPPORTED_APIS: readonly ApiVersionRange[] = Object.entries(API_KEYS)
  .map(([name, apiKey]) => {
    const [minVersion, maxVersion] = RANGES[name as ApiName];
    return { apiKey, name: name as ApiName, minVersion, maxVersion };
  })
  .sort((a, b) => a.apiKey - b.apiKey);

const BY_KEY = new Map(SUPPORTED_APIS.map((range) => [range.apiKey, range]));

export function apiRange(apiKey: number): ApiVersionRange | undefined {
  return BY_KEY.get(apiKey);
}

export function isSupported(apiKey: number, apiVersion: number): boolean {
  const range = BY_KEY.get(apiKey);
  return range !== undefined && apiVersion >= range.minVersion && apiVersion <= range.maxVersion;
}
