/** ListOffsets: -1 is the high watermark, -2 the log start, any other value a time lookup. */
import { errorCode } from '../protocol/error-codes.js';
import {
  decodeListOffsetsRequest,
  EARLIEST_TIMESTAMP,
  encodeListOffsetsResponse,
  LATEST_TIMESTAMP,
} from '../protocol/list-offsets.js';
import type { ListOffsetsPartitionResponse } from '../protocol/list-offsets.js';
import type { PartitionLog } from '../storage/store.js';
import { kafkaErrorOf } from './kafka-error-of.js';
import type { RequestContext } from './request-context.js';

export async function handleListOffsets({ reader, writer, version, broker }: RequestContext) {
  const request = decodeListOffsetsRequest(reader, version);
  const topics = await Promise.all(
    request.topics.map(async (topic) => ({
      name: topic.name,
      partitions: await Promise.all(
        topic.partitions.map((entry) =>
          lookup(
            broker.store.partition(topic.name, entry.partition),
            entry.partition,
            entry.timestampMs,
          ),
        ),
      ),
    })),
  );
  encodeListOffsetsResponse(writer, version, { topics });
}

async function lookup(
  log: PartitionLog | undefined,
  partition: number,
  timestampMs: number,
): Promise<ListOffsetsPartitionResponse> {
  if (log === undefined) {
    return {
      partition,
      errorCode: errorCode('UNKNOWN_TOPIC_OR_PARTITION'),
      timestampMs: -1,
      offset: -1,
    };
  }
  if (timestampMs === LATEST_TIMESTAMP) {
    return { partition, errorCode: 0, timestampMs: -1, offset: log.highWatermark() };
  }
  if (timestampMs === EARLIEST_TIMESTAMP) {
    return { partition, errorCode: 0, timestampMs: -1, offset: log.logStartOffset() };
  }
  try {
    const offset = await log.offsetForTimestamp(timestampMs);
    // Kafka reports the found record's timestamp; the store resolves offsets only, so the
    // requested time stands in for it. No record at or after the time: -1 / -1.
    return offset === null
      ? { partition, errorCode: 0, timestampMs: -1, offset: -1 }
      : { partition, errorCode: 0, timestampMs, offset };
  } catch (error) {
    return { partition, errorCode: kafkaErrorOf(error), timestampMs: -1, offset: -1 };
  }
}
