/**
 * Produce (api key 0), versions 3–7 (magic-2 record batches only):
 *
 *   Produce Request (Version: 3–7) => transactional_id acks timeout_ms [topic_data]
 *     transactional_id => NULLABLE_STRING
 *     acks => INT16
 *     timeout_ms => INT32
 *     topic_data => name [partition_data]
 *       name => STRING
 *       partition_data => index records
 *         index => INT32
 *         records => RECORDS (NULLABLE_BYTES)
 *
 *   Produce Response (Version: 3–7) => [responses] throttle_time_ms
 *     responses => name [partition_responses]
 *       partition_responses => index error_code base_offset log_append_time_ms log_start_offset
 *         log_append_time_ms => INT64
 *         log_start_offset => INT64 (v5+)
 *     throttle_time_ms => INT32
 *
 * `records` is a view into the request buffer: the batches go to the store uncopied.
 */
import type { Reader } from './reader.js';
import type { Writer } from './writer.js';

export interface ProducePartitionData {
  readonly partition: number;
  readonly records: Buffer | null;
}

export interface ProduceRequest {
  readonly transactionalId: string | null;
  readonly acks: number;
  readonly timeoutMs: number;
  readonly topics: readonly { name: string; partitions: readonly ProducePartitionData[] }[];
}

export interface ProducePartitionResponse {
  readonly partition: number;
  readonly errorCode: number;
  readonly baseOffset: number;
  readonly logAppendTimeMs: number;
  readonly logStartOffset: number;
}

export interface ProduceResponse {
  readonly topics: readonly { name: string; partitions: readonly ProducePartitionResponse[] }[];
}

export function decodeProduceRequest(reader: Reader, _version: number): ProduceRequest {
  return {
    transactionalId: reader.nullableString(),
    acks: reader.int16(),
    timeoutMs: reader.int32(),
    topics: reader.array((topic) => ({
      name: topic.string(),
      partitions: topic.array(
        (partition) => ({ partition: partition.int32(), records: partition.nullableBytes() }),
        8,
      ),
    })),
  };
}

export function encodeProduceResponse(
  writer: Writer,
  version: number,
  response: ProduceResponse,
): void {
  writer.array(response.topics, (w, topic) => {
    w.string(topic.name).array(topic.partitions, (pw, partition) => {
      pw.int32(partition.partition)
        .int16(partition.errorCode)
        .int64(partition.baseOffset)
        .int64(partition.logAppendTimeMs);
      if (version >= 5) pw.int64(partition.logStartOffset);
    });
  });
  writer.int32(0);
}
