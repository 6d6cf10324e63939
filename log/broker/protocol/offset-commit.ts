/**
 * OffsetCommit (api key 8), versions 0–7:
 *
 *   OffsetCommit Request => group_id generation_id (v1+) member_id (v1+)
 *                           group_instance_id (v7) retention_time_ms (v2–4) [topics]
 *     topics => name [partitions]
 *       partitions => partition_index committed_offset committed_leader_epoch (v6+)
 *                     commit_timestamp (v1 only) committed_metadata
 *
 *   OffsetCommit Response => throttle_time_ms (v3+) [topics]
 *     topics => name [partitions]
 *       partitions => partition_index error_code
 */
import type { Reader } from './reader.js';
import type { Writer } from './writer.js';

export interface OffsetCommitPartition {
  readonly partition: number;
  readonly offset: number;
  readonly metadata: string | null;
}

export interface OffsetCommitRequest {
  readonly groupId: string;
  /** -1 for a commit outside group management (v0, or a simple consumer). */
  readonly generationId: number;
  readonly memberId: string;
  readonly topics: readonly { name: string; partitions: readonly OffsetCommitPartition[] }[];
}

export interface OffsetCommitResponse {
  readonly topics: readonly {
    name: string;
    partitions: readonly { partition: number; errorCode: number }[];
  }[];
}

export function decodeOffsetCommitRequest(reader: Reader, version: number): OffsetCommitRequest {
  const groupId = reader.string();
  const generationId = version >= 1 ? reader.int32() : -1;
  const memberId = version >= 1 ? reader.string() : '';
  if (version >= 7) reader.nullableString(); // group_instance_id
  if (version >= 2 && version <= 4) reader.int64(); // retention_time_ms: offsets are kept
  const topics = reader.array((topic) => ({
    name: topic.string(),
    partitions: topic.array((partition) => {
      const index = partition.int32();
      const offset = partition.int64();
      if (version >= 6) partition.int32(); // committed_leader_epoch
      if (version === 1) partition.int64(); // commit_timestamp
      return { partition: index, offset, metadata: partition.nullableString() };
    }, 14),
  }));
  return { groupId, generationId, memberId, topics };
}

export function encodeOffsetCommitResponse(
  writer: Writer,
  version: number,
  response: OffsetCommitResponse,
): void {
  if (version >= 3) writer.int32(0);
  writer.array(response.topics, (w, topic) => {
    w.string(topic.name).array(topic.partitions, (pw, partition) => {
      pw.int32(partition.partition).int16(partition.errorCode);
    });
  });
}
