/**
 * Fetch (api key 1), versions 4–11, sessionless (session_id is always 0):
 *
 *   Fetch Request => replica_id max_wait_ms min_bytes max_bytes isolation_level
 *                    session_id (v7+) session_epoch (v7+) [topics] [forgotten_topics_data] (v7+)
 *                    rack_id (v11)
 *     topics => topic [partitions]
 *       partitions => partition current_leader_epoch (v9+) fetch_offset
 *                     log_start_offset (v5+) partition_max_bytes
 *     forgotten_topics_data => topic [partitions INT32]
 *
 *   Fetch Response => throttle_time_ms error_code (v7+) session_id (v7+) [responses]
 *     responses => topic [partitions]
 *       partitions => partition_index error_code high_watermark last_stable_offset
 *                     log_start_offset (v5+) [aborted_transactions] (nullable)
 *                     preferred_read_replica (v11) records
 *
 * `records` in a response is a list of stored batch buffers, written by reference.
 */
import type { Reader } from './reader.js';
import type { Writer } from './writer.js';

export interface FetchPartitionRequest {
  readonly partition: number;
  readonly fetchOffset: number;
  readonly partitionMaxBytes: number;
}

export interface FetchRequest {
  readonly maxWaitMs: number;
  readonly minBytes: number;
  readonly maxBytes: number;
  readonly topics: readonly { name: string; partitions: readonly FetchPartitionRequest[] }[];
}

export interface FetchPartitionResponse {
  readonly partition: number;
  readonly errorCode: number;
  readonly highWatermark: number;
  readonly logStartOffset: number;
  readonly records: Buffer | null;
}

export interface FetchResponse {
  readonly topics: readonly { name: string; partitions: readonly FetchPartitionResponse[] }[];
}

export function decodeFetchRequest(reader: Reader, version: number): FetchRequest {
  reader.int32(); // replica_id: always a consumer (-1) for a single node
  const maxWaitMs = reader.int32();
  const minBytes = reader.int32();
  const maxBytes = reader.int32();
  reader.int8(); // isolation_level: no transactions, so READ_COMMITTED == READ_UNCOMMITTED
  if (version >= 7) {
    reader.int32(); // session_id
    reader.int32(); // session_epoch
  }
  const topics = reader.array((topic) => ({
    name: topic.string(),
    partitions: topic.array((partition) => {
      const index = partition.int32();
      if (version >= 9) partition.int32(); // current_leader_epoch
      const fetchOffset = partition.int64();
      if (version >= 5) partition.int64(); // log_start_offset (follower only)
      return { partition: index, fetchOffset, partitionMaxBytes: partition.int32() };
    }, 16),
  }));
  if (version >= 7) {
    reader.array((forgotten) => {
      forgotten.string();
      forgotten.array((partition) => partition.int32(), 4);
    });
  }
  if (version >= 11) reader.string(); // rack_id
  return { maxWaitMs, minBytes, maxBytes, topics };
}

export function encodeFetchResponse(
  writer: Writer,
  version: number,
  response: FetchResponse,
): void {
  writer.int32(0);
  if (version >= 7) writer.int16(0).int32(0);
  writer.array(response.topics, (w, topic) => {
    w.string(topic.name).array(topic.partitions, (pw, partition) => {
      pw.int32(partition.partition)
        .int16(partition.errorCode)
        .int64(partition.highWatermark)
        .int64(partition.highWatermark); // last_stable_offset: no open transactions
      if (version >= 5) pw.int64(partition.logStartOffset);
      pw.int32(0); // aborted_transactions: empty
      if (version >= 11) pw.int32(-1); // preferred_read_replica: none
      pw.nullableBytes(partition.records);
    });
  });
}
