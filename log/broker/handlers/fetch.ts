/**
 * Fetch, sessionless: reads every requested partition; if fewer than min_bytes are ready
 * and max_wait_ms has not passed, waits until any partition gets new data and reads again.
 * The response stays under max_bytes except that the first non-empty partition always
 * carries at least one whole batch (so a batch larger than max_bytes can still be read).
 */
import { errorCode } from '../protocol/error-codes.js';
import { decodeFetchRequest, encodeFetchResponse } from '../protocol/fetch.js';
import type { FetchPartitionResponse, FetchRequest } from '../protocol/fetch.js';
import { kafkaErrorOf } from './kafka-error-of.js';
import type { BrokerContext, RequestContext } from './request-context.js';

interface ReadPass {
  readonly topics: { name: string; partitions: FetchPartitionResponse[] }[];
  readonly bytes: number;
  readonly failed: boolean;
}

export async function handleFetch({ reader, writer, version, broker }: RequestContext) {
  const request = decodeFetchRequest(reader, version);
  const deadlineMs = Date.now() + Math.max(0, request.maxWaitMs);
  let pass = await readAll(broker, request);
  while (!pass.failed && pass.bytes < request.minBytes && !broker.closing.aborted) {
    const remainingMs = deadlineMs - Date.now();
    if (remainingMs <= 0) break;
    await waitForAny(broker, request, pass, remainingMs);
    pass = await readAll(broker, request);
  }
  encodeFetchResponse(writer, version, { topics: pass.topics });
}

async function readAll(broker: BrokerContext, request: FetchRequest): Promise<ReadPass> {
  let budgetBytes = Math.max(0, request.maxBytes);
  let bytes = 0;
  let failed = false;
  const topics: ReadPass['topics'] = [];
  for (const topic of request.topics) {
    const partitions: FetchPartitionResponse[] = [];
    for (const entry of topic.partitions) {
      const log = broker.store.partition(topic.name, entry.partition);
      if (log === undefined) {
        failed = true;
        partitions.push(empty(entry.partition, errorCode('UNKNOWN_TOPIC_OR_PARTITION'), -1, -1));
        continue;
      }
      // Only the first partition with data may exceed the budget (one whole batch).
      const maxBytes =
        bytes === 0 ? entry.partitionMaxBytes : Math.min(entry.partitionMaxBytes, budgetBytes);
      if (maxBytes <= 0 && bytes > 0) {
        partitions.push(empty(entry.partition, 0, log.highWatermark(), log.logStartOffset()));
        continue;
      }
      try {
        const result = await log.read(entry.fetchOffset, Math.max(maxBytes, 1));
        bytes += result.records.length;
        budgetBytes -= result.records.length;
        partitions.push({
          partition: entry.partition,
          errorCode: 0,
          highWatermark: result.highWatermark,
          logStartOffset: result.logStartOffset,
          records: result.records,
        });
      } catch (error) {
        failed = true;
        partitions.push(
          empty(entry.partition, kafkaErrorOf(error), log.highWatermark(), log.logStartOffset()),
        );
      }
    }
    topics.push({ name: topic.name, partitions });
  }
  return { topics, bytes, failed };
}

function empty(
  partition: number,
  code: number,
  highWatermark: number,
  logStartOffset: number,
): FetchPartitionResponse {
  return { partition, errorCode: code, highWatermark, logStartOffset, records: Buffer.alloc(0) };
}

/**
 * Resolves when any requested partition has data past what the last pass saw (its high
 * watermark then, or the fetch offset if that is higher), or on timeout. Waiting on the
 * fetch offset alone would spin while data below min_bytes sits there.
 */
async function waitForAny(
  broker: BrokerContext,
  request: FetchRequest,
  pass: ReadPass,
  timeoutMs: number,
) {
  const done = new AbortController();
  const signal = AbortSignal.any([done.signal, broker.closing]);
  const waits = request.topics.flatMap((topic, t) =>
    topic.partitions.flatMap((entry, p) => {
      const log = broker.store.partition(topic.name, entry.partition);
      const seen = pass.topics[t]?.partitions[p]?.highWatermark ?? entry.fetchOffset;
      return log === undefined
        ? []
        : [log.waitForData(Math.max(entry.fetchOffset, seen), timeoutMs, signal)];
    }),
  );
  if (waits.length === 0) return;
  try {
    await Promise.race(waits);
  } finally {
    done.abort();
  }
}
