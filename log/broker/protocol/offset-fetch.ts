/**
 * OffsetFetch (api key 9), versions 1–5:
 *
 *   OffsetFetch Request => group_id [topics]  (v2+: topics null = every committed partition)
 *     topics => name [partition_indexes INT32]
 *
 *   OffsetFetch Response => throttle_time_ms (v3+) [topics] error_code (v2+)
 *     topics => name [partitions]
 *       partitions => partition_index committed_offset committed_leader_epoch (v5+)
 *                     metadata error_code
 */
import type { Reader } from './reader.js';
import type { Writer } from './writer.js';

export interface OffsetFetchRequest {
  readonly groupId: string;
  readonly topics: readonly { name: string; partitions: readonly number[] }[] | null;
}

export interface OffsetFetchPartition {
  readonly partition: number;
  /** -1 when nothing is committed. */
  readonly offset: number;
  readonly metadata: string | null;
  readonly errorCode: number;
}

export interface OffsetFetchResponse {
  readonly topics: readonly { name: string; partitions: readonly OffsetFetchPartition[] }[];
  readonly errorCode: number;
}

export function decodeOffsetFetchRequest(reader: Reader, version: number): OffsetFetchRequest {
  const groupId = reader.string();
  const readTopic = (topic: Reader) => ({
    name: topic.string(),
    partitions: topic.array((partition) => partition.int32(), 4),
  });
  const topics = version >= 2 ? reader.nullableArray(readTopic) : reader.array(readTopic);
  return { groupId, topics };
}

export function encodeOffsetFetchResponse(
  writer: Writer,
  version: number,
  response: OffsetFetchResponse,
): void {
  if (version >= 3) writer.int32(0);
  writer.array(response.topics, (w, topic) => {
    w.string(topic.name).array(topic.partitions, (pw, partition) => {
      pw.int32(partition.partition).int64(partition.offset);
      if (version >= 5) pw.int32(-1); // committed_leader_epoch: unknown
      pw.nullableString(partition.metadata).int16(partition.errorCode);
    });
  });
  if (version >= 2) writer.int16(response.errorCode);
}
