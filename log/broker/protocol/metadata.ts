/**
 * Metadata (api key 3), versions 0–6:
 *
 *   Metadata Request => [topics] allow_auto_topic_creation (v4+)
 *     topics => name            (v0: empty array = all; v1+: null = all, empty = none)
 *
 *   Metadata Response => throttle_time_ms (v3+) [brokers] cluster_id (v2+) controller_id (v1+) [topics]
 *     brokers => node_id host port rack (v1+, NULLABLE_STRING)
 *     topics => error_code name is_internal (v1+) [partitions]
 *       partitions => error_code partition_index leader_id [replica_nodes] [isr_nodes]
 *                     [offline_replicas] (v5+)
 *
 * controller_id must be a listed node id: kafkajs refuses admin requests otherwise.
 */
import type { Reader } from './reader.js';
import type { Writer } from './writer.js';

export interface MetadataRequest {
  /** null: all topics. */
  readonly topics: readonly string[] | null;
  readonly allowAutoTopicCreation: boolean;
}

export interface MetadataBroker {
  readonly nodeId: number;
  readonly host: string;
  readonly port: number;
}

export interface MetadataTopic {
  readonly errorCode: number;
  readonly name: string;
  readonly partitions: readonly { errorCode: number; partition: number }[];
}

export interface MetadataResponse {
  readonly broker: MetadataBroker;
  readonly clusterId: string;
  readonly topics: readonly MetadataTopic[];
}

export function decodeMetadataRequest(reader: Reader, version: number): MetadataRequest {
  const topics = reader.nullableArray((topic) => topic.string(), 2);
  const allowAutoTopicCreation = version >= 4 ? reader.boolean() : true;
  const all = topics === null || (version === 0 && topics.length === 0);
  return { topics: all ? null : topics, allowAutoTopicCreation };
}

export function encodeMetadataResponse(
  writer: Writer,
  version: number,
  response: MetadataResponse,
): void {
  const { broker } = response;
  if (version >= 3) writer.int32(0);
  writer.int32(1).int32(broker.nodeId).string(broker.host).int32(broker.port);
  if (version >= 1) writer.nullableString(null);
  if (version >= 2) writer.nullableString(response.clusterId);
  if (version >= 1) writer.int32(broker.nodeId);
  writer.array(response.topics, (w, topic) => {
    w.int16(topic.errorCode).string(topic.name);
    if (version >= 1) w.boolean(false);
    w.array(topic.partitions, (pw, partition) => {
      pw.int16(partition.errorCode).int32(partition.partition).int32(broker.nodeId);
      pw.int32(1).int32(broker.nodeId); // replicas
      pw.int32(1).int32(broker.nodeId); // in-sync replicas
      if (version >= 5) pw.int32(0); // offline replicas
    });
  });
}
