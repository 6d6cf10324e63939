/**
 * ListOffsets (api key 2), versions 1–3:
 *
 *   ListOffsets Request => replica_id isolation_level (v2+) [topics]
 *     topics => name [partitions]
 *       partitions => partition_index timestamp
 *         timestamp => INT64 (-1 latest, -2 earliest, else a time in ms)
 *
 *   ListOffsets Response => throttle_time_ms (v2+) [topics]
 *     topics => name [partitions]
 *       partitions => partition_index error_code timestamp offset
 */
import type { Reader } from './reader.js';
import type { Writer } from './writer.js';

export const LATEST_TIMESTAMP = -1;
export const EARLIEST_TIMESTAMP = -2;

export interface ListOffsetsRequest {
  readonly topics: readonly {
    name: string;
    partitions: readonly { partition: number; timestampMs: number }[];
  }[];
}

export interface ListOffsetsPartitionResponse {
  readonly partition: number;
  readonly errorCode: number;
  readonly timestampMs: number;
  readonly offset: number;
}

export interface ListOffsetsResponse {
  readonly topics: readonly {
    name: string;
    partitions: readonly ListOffsetsPartitionResponse[];
  }[];
}

export function decodeListOffsetsRequest(reader: Reader, version: number): ListOffsetsRequest {
  reader.int32(); // replica_id
  if (version >= 2) reader.int8(); // isolation_level
  return {
    topics: reader.array((topic) => ({
      name: topic.string(),
      partitions: topic.array(
        (partition) => ({ partition: partition.int32(), timestampMs: partition.int64() }),
        12,
      ),
    })),
  };
}

export function encodeListOffsetsResponse(
  writer: Writer,
  version: number,
  response: ListOffsetsResponse,
): void {
  if (version >= 2) writer.int32(0);
  writer.array(response.topics, (w, topic) => {
    w.string(topic.name).array(topic.partitions, (pw, partition) => {
      pw.int32(partition.partition)
        .int16(partition.errorCode)
        .int64(partition.timestampMs)
        .int64(partition.offset);
    });
  });
}
