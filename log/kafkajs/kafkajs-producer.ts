/**
 * The log port's producer over kafkajs: idempotent, acks=all, with a bounded number of
 * bytes in flight.
 *
 * kafkajs's idempotent producer sends one Produce request per broker at a time, so many
 * small `send` calls would each pay a broker round trip and fsync. Sends are therefore
 * queued and coalesced: whatever is queued when the previous request completes goes out
 * as one request (at most `maxRequestBytes`, at most `maxBatchBytes` per partition), in
 * the order the sends were made — so per-partition order is the order of `send` calls.
 * `send` waits (back-pressure) while more than `maxInFlightBytes` are queued or in flight.
 */
import type { Producer, TopicMessages } from 'kafkajs';
import { LogError } from '../errors.js';
import type { LogMessage, SendResult } from '../log-client.js';
import { WindowedProducer } from '../windowed-producer.js';
import { kafkajs } from './load-kafkajs.js';

export interface KafkajsProducerLimits {
  readonly maxInFlightBytes: number;
  readonly maxRequestBytes: number;
  readonly maxBatchBytes: number;
  readonly compression: 'none' | 'gzip';
}

interface QueuedSend {
  readonly topic: string;
  readonly partition: number;
  readonly messages: readonly LogMessage[];
  readonly bytes: number;
  resolve(result: SendResult): void;
  reject(error: unknown): void;
}

/** kafkajs reports a missing topic as UNKNOWN_TOPIC_OR_PARTITION, possibly after retries. */
function unknownTopic(error: unknown): boolean {
  for (let current = error; current instanceof Error; current = current.cause) {
    if ((current as { type?: unknown }).type === 'UNKNOWN_TOPIC_OR_PARTITION') return true;
  }
  return false;
}

export class KafkajsProducer extends WindowedProducer {
  readonly #producer: Producer;
  readonly #limits: KafkajsProducerLimits;
  readonly #queue: QueuedSend[] = [];
  #sending: Promise<void> | null = null;

  constructor(producer: Producer, limits: KafkajsProducerLimits) {
    super(limits);
    this.#producer = producer;
    this.#limits = limits;
  }

  protected enqueue(
    topic: string,
    partition: number,
    messages: readonly LogMessage[],
    bytes: number,
  ): Promise<SendResult> {
    const acknowledged = new Promise<SendResult>((resolve, reject) => {
      this.#queue.push({ topic, partition, messages, bytes, resolve, reject });
    });
    this.#pump();
    return acknowledged;
  }

  protected async disconnect(): Promise<void> {
    await this.#producer.disconnect();
  }

  #pump(): void {
    if (this.#sending !== null || this.#queue.length === 0) return;
    const request = this.#takeRequest();
    this.#sending = this.#sendRequest(request).finally(() => {
      this.#sending = null;
      this.#pump();
    });
  }

  /** Takes queued sends, in order, up to the request and per-partition limits (at least one). */
  #takeRequest(): QueuedSend[] {
    const taken: QueuedSend[] = [];
    const partitionBytes = new Map<string, number>();
    let requestBytes = 0;
    while (this.#queue.length > 0) {
      const next = this.#queue[0]!;
      const key = `${next.topic}\u0000${next.partition}`;
      const inPartition = partitionBytes.get(key) ?? 0;
      const fits =
        requestBytes + next.bytes <= this.#limits.maxRequestBytes &&
        inPartition + next.bytes <= this.#limits.maxBatchBytes;
      if (taken.length > 0 && !fits) break;
      this.#queue.shift();
      taken.push(next);
      requestBytes += next.bytes;
      partitionBytes.set(key, inPartition + next.bytes);
    }
    return taken;
  }

  async #sendRequest(sends: QueuedSend[]): Promise<void> {
    const byTopic = new Map<string, TopicMessages>();
    for (const send of sends) {
      let entry = byTopic.get(send.topic);
      if (entry === undefined) {
        entry = { topic: send.topic, messages: [] };
        byTopic.set(send.topic, entry);
      }
      for (const message of send.messages) {
        entry.messages.push({
          key: message.key,
          value: message.value,
          partition: send.partition,
          ...(message.headers === undefined ? {} : { headers: { ...message.headers } }),
          ...(message.timestampMs === undefined ? {} : { timestamp: String(message.timestampMs) }),
        });
      }
    }
    try {
      const metadata = await this.#producer.sendBatch({
        topicMessages: [...byTopic.values()],
        acks: -1,
        compression:
          this.#limits.compression === 'gzip'
            ? kafkajs.CompressionTypes.GZIP
            : kafkajs.CompressionTypes.None,
      });
      const nextOffset = new Map<string, number>();
      for (const entry of metadata) {
        if (entry.errorCode !== 0)
          throw new Error(
            `broker error code ${entry.errorCode} for ${entry.topicName}[${entry.partition}]`,
          );
        nextOffset.set(`${entry.topicName}\u0000${entry.partition}`, Number(entry.baseOffset));
      }
      for (const send of sends) {
        const key = `${send.topic}\u0000${send.partition}`;
        const baseOffset = nextOffset.get(key);
        if (baseOffset === undefined)
          throw new Error(`no acknowledgement for ${send.topic}[${send.partition}]`);
        nextOffset.set(key, baseOffset + send.messages.length);
        send.resolve({ topic: send.topic, partition: send.partition, baseOffset });
      }
    } catch (error) {
      // The idempotent sequence state is now uncertain: fail this and every later send.
      const failure = this.fail(
        new LogError(
          unknownTopic(error) ? 'EXTENTLOG_ERR_LOG_TOPIC' : 'EXTENTLOG_ERR_LOG_PRODUCE',
          `produce to ${[...byTopic.keys()].join(', ')} failed: ${(error as Error).message}`,
          { cause: error },
        ),
      );
      for (const send of [...sends, ...this.#queue.splice(0)]) send.reject(failure);
    }
  }
}
