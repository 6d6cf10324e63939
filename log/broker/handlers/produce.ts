/**
 * Produce: each partition entry's record batches are handed to the store as a view into the
 * request buffer. Appends start synchronously in request order, so pipelined requests for
 * one partition are appended in the order they were sent.
 */
import { errorCode } from '../protocol/error-codes.js';
import { decodeProduceRequest, encodeProduceResponse } from '../protocol/produce.js';
import type { ProducePartitionResponse } from '../protocol/produce.js';
import type { PartitionLog } from '../storage/store.js';
import { kafkaErrorOf } from './kafka-error-of.js';
import type { RequestContext } from './request-context.js';

export async function handleProduce({
  reader,
  writer,
  version,
  broker,
  connection,
}: RequestContext) {
  const request = decodeProduceRequest(reader, version);
  const validAcks = request.acks === 0 || request.acks === 1 || request.acks === -1;
  const durable = request.acks === -1;
  const append = async (
    log: PartitionLog | undefined,
    partition: number,
    records: Buffer | null,
  ): Promise<ProducePartitionResponse> => {
    const failed = (code: number) => ({
      partition,
      errorCode: code,
      baseOffset: -1,
      logAppendTimeMs: -1,
      logStartOffset: -1,
    });
    if (!validAcks) return failed(errorCode('INVALID_REQUIRED_ACKS'));
    if (log === undefined) return failed(errorCode('UNKNOWN_TOPIC_OR_PARTITION'));
    if (records === null || records.length === 0) return failed(errorCode('CORRUPT_MESSAGE'));
    try {
      const result = await log.append(records, { durable });
      return {
        partition,
        errorCode: 0,
        baseOffset: result.baseOffset,
        logAppendTimeMs: -1, // CreateTime topics: clients keep their own timestamps
        logStartOffset: result.logStartOffset,
      };
    } catch (error) {
      broker.logger.debug(
        { client: connection.clientAddress, topic: log.topic, partition, error },
        'append refused',
      );
      return failed(kafkaErrorOf(error));
    }
  };
  const pending = request.topics.map((topic) => ({
    name: topic.name,
    partitions: topic.partitions.map((entry) =>
      append(broker.store.partition(topic.name, entry.partition), entry.partition, entry.records),
    ),
  }));
  if (request.acks === 0) {
    // No response is due; failures only show in the log, as with Kafka.
    void Promise.all(pending.flatMap((topic) => topic.partitions));
    return 'no-response' as const;
  }
  const topics = await Promise.all(
    pending.map(async (topic) => ({
      name: topic.name,
      partitions: await Promise.all(topic.partitions),
    })),
  );
  encodeProduceResponse(writer, version, { topics });
}
