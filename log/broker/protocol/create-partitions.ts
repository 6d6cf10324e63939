/**
 * CreatePartitions (api key 37), versions 0–1:
 *
 *   CreatePartitions Request => [topics] timeout_ms validate_only
 *     topics => name count [assignments] (nullable)
 *       assignments => [broker_ids INT32]
 *
 *   CreatePartitions Response => throttle_time_ms [results]
 *     results => name error_code error_message
 */
import type { TopicResult } from './create-topics.js';
import type { Reader } from './reader.js';
import type { Writer } from './writer.js';

export interface CreatePartitionsRequest {
  readonly topics: readonly {
    name: string;
    count: number;
    assignments: readonly (readonly number[])[] | null;
  }[];
  readonly timeoutMs: number;
  readonly validateOnly: boolean;
}

export function decodeCreatePartitionsRequest(
  reader: Reader,
  _version: number,
): CreatePartitionsRequest {
  const topics = reader.array(
    (topic) => ({
      name: topic.string(),
      count: topic.int32(),
      assignments: topic.nullableArray((assignment) => assignment.array((id) => id.int32(), 4), 4),
    }),
    10,
  );
  return { topics, timeoutMs: reader.int32(), validateOnly: reader.boolean() };
}

export function encodeCreatePartitionsResponse(
  writer: Writer,
  _version: number,
  results: readonly TopicResult[],
): void {
  writer.int32(0).array(results, (w, result) => {
    w.string(result.name).int16(result.errorCode).nullableString(result.errorMessage);
  });
}
