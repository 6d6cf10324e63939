/**
 * CreateTopics (api key 19), versions 0–3:
 *
 *   CreateTopics Request => [topics] timeout_ms validate_only (v1+)
 *     topics => name num_partitions replication_factor [assignments] [configs]
 *       assignments => partition_index [broker_ids INT32]
 *       configs => name value (NULLABLE_STRING)
 *
 *   CreateTopics Response => throttle_time_ms (v2+) [topics]
 *     topics => name error_code error_message (v1+)
 */
import type { Reader } from './reader.js';
import type { Writer } from './writer.js';

export interface CreatableTopic {
  readonly name: string;
  /** -1: the broker default. */
  readonly numPartitions: number;
  readonly replicationFactor: number;
  readonly assignments: readonly { partition: number; brokerIds: readonly number[] }[];
  readonly configs: readonly { name: string; value: string | null }[];
}

export interface CreateTopicsRequest {
  readonly topics: readonly CreatableTopic[];
  readonly timeoutMs: number;
  readonly validateOnly: boolean;
}

export interface TopicResult {
  readonly name: string;
  readonly errorCode: number;
  readonly errorMessage: string | null;
}

export function decodeCreateTopicsRequest(reader: Reader, version: number): CreateTopicsRequest {
  const topics = reader.array(
    (topic) => ({
      name: topic.string(),
      numPartitions: topic.int32(),
      replicationFactor: topic.int16(),
      assignments: topic.array(
        (assignment) => ({
          partition: assignment.int32(),
          brokerIds: assignment.array((id) => id.int32(), 4),
        }),
        8,
      ),
      configs: topic.array(
        (config) => ({ name: config.string(), value: config.nullableString() }),
        4,
      ),
    }),
    16,
  );
  const timeoutMs = reader.int32();
  return { topics, timeoutMs, validateOnly: version >= 1 ? reader.boolean() : false };
}

export function encodeCreateTopicsResponse(
  writer: Writer,
  version: number,
  results: readonly TopicResult[],
): void {
  if (version >= 2) writer.int32(0);
  writer.array(results, (w, result) => {
    w.string(result.name).int16(result.errorCode);
    if (version >= 1) w.nullableString(result.errorMessage);
  });
}
