/**
 * Reads one partition from an offset to an end offset over librdkafka with a manual
 * assignment (rd_kafka_assign with a start offset): no group is joined and no offset is
 * committed, so nothing is left on the broker. The group id librdkafka requires is a
 * throw-away name that never reaches a JoinGroup or OffsetCommit.
 *
 * `enable.partition.eof` reports the partition's end offset, which ends a range whose
 * last records compaction removed; `auto.offset.reset: error` turns a start offset that
 * retention removed meanwhile into an error instead of a silent jump.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { LogError } from '../errors.js';
import type { ConsumedMessage, LogAdmin, ReadRangeOptions } from '../log-client.js';
import { rangeBounds } from '../range-bounds.js';
import { CONSUME_IDLE_MS, QueueWake } from './consumer-queue.js';
import { toConsumedMessage } from './librdkafka-consumer.js';
import { toLogError } from './librdkafka-errors.js';
import type { RdkafkaConfig, RdkafkaConsumer, RdkafkaMessage } from './rdkafka-api.js';

export interface RangeReaderDependencies {
  readonly admin: LogAdmin;
  /** Creates and connects a consumer with these properties on top of the connection's. */
  connectConsumer(properties: RdkafkaConfig): Promise<RdkafkaConsumer>;
  readonly logger: Logger;
  /** A read that gets no record for this long while records are due fails. */
  readonly stallTimeoutMs: number;
  /** Prefetch bound of the reader's queue. */
  readonly maxQueuedBytes: number;
}

/** Consume errors that end the read; others (a broker reconnecting) are retried by librdkafka. */
const FINAL_CODES = new Set([
  'EXTENTLOG_ERR_LOG_OFFSET_OUT_OF_RANGE',
  'EXTENTLOG_ERR_LOG_TOPIC',
  'EXTENTLOG_ERR_LOG_AUTH',
]);

export async function* readRange(
  dependencies: RangeReaderDependencies,
  options: ReadRangeOptions,
): AsyncGenerator<ConsumedMessage, void, undefined> {
  const { topic, partition } = options;
  const range = await rangeBounds(dependencies.admin, options);
  if (range === null) return;
  const { fromOffset, toOffset } = range;
  const where = `${topic}[${partition}]`;

  const wake = new QueueWake();
  let endOffset = -1;
  const consumer = await dependencies.connectConsumer({
    'group.id': `extentlog-reader-${randomUUID()}`,
    'enable.auto.commit': false,
    'enable.auto.offset.store': false,
    'enable.partition.eof': true,
    'auto.offset.reset': 'error',
    'queued.max.messages.kbytes': Math.max(1, Math.floor(dependencies.maxQueuedBytes / 1024)),
    queue_non_empty_cb: wake.signal,
  });
  try {
    consumer.on('partition.eof', (eof) => {
      if (eof.topic === topic && eof.partition === partition)
        endOffset = Math.max(endOffset, eof.offset);
    });
    consumer.assign([{ topic, partition, offset: fromOffset }]);
    let next = fromOffset;
    let progressAtMs = Date.now();
    while (next < toOffset && endOffset < toOffset) {
      let messages: RdkafkaMessage[];
      try {
        messages = await wake.consume(consumer);
      } catch (error) {
        const translated = toLogError(error, `reading ${where}`, 'EXTENTLOG_ERR_LOG_CONSUME', {
          topic,
          partition,
        });
        if (FINAL_CODES.has(translated.code)) throw translated;
        dependencies.logger.warn({ err: error, topic, partition }, 'range read: consume error');
        messages = [];
      }
      for (const message of messages) {
        if (message.offset < next) continue;
        if (message.offset >= toOffset) {
          next = toOffset;
          break;
        }
        next = message.offset + 1;
        progressAtMs = Date.now();
        yield toConsumedMessage(message);
      }
      if (messages.length > 0 || next >= toOffset || endOffset >= toOffset) continue;
      if (Date.now() - progressAtMs > dependencies.stallTimeoutMs) {
        throw new LogError(
          'EXTENTLOG_ERR_LOG_CONSUME',
          `reading ${where} got no record for ${dependencies.stallTimeoutMs} ms at offset ${next} of [${fromOffset}, ${toOffset}): check that the broker is reachable`,
          { details: { topic, partition, offset: next } },
        );
      }
      await wake.wait(CONSUME_IDLE_MS);
    }
  } finally {
    await new Promise<void>((resolve) => consumer.disconnect(() => resolve()));
  }
}
