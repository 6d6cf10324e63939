/**
 * The control channel: a small topic (`<prefix>.control`) through which consumers ask
 * feeds for things — today, a re-baseline of a disk when a target cannot catch up from the
 * log (history expired, or no base for an incremental epoch). Values are JSON so that
 * `kcat -C -t <prefix>.control` shows them as they are.
 */
import type { LogClient, LogConsumer, LogProducer } from './log-client.js';

export interface RebaselineRequest {
  readonly kind: 'rebaseline';
  readonly feed: string;
  readonly disk: string;
  readonly reason: string;
  /** Who asks: the target's name. */
  readonly requestedBy: string;
  readonly requestedAtMs: number;
}

export type ControlMessage = RebaselineRequest;

export interface ControlChannel {
  send(message: ControlMessage): Promise<void>;
  /**
   * Delivers messages to `handler` as the consumer group `groupId` (one per feed), committing
   * after each batch: a message is handled once per group, also across restarts.
   */
  listen(groupId: string, handler: (message: ControlMessage) => void): Promise<() => Promise<void>>;
  close(): Promise<void>;
}

export function controlTopic(prefix: string): string {
  return `${prefix}.control`;
}

function parseControl(value: Buffer | null): ControlMessage | null {
  if (value === null) return null;
  try {
    const parsed = JSON.parse(value.toString('utf8')) as Partial<RebaselineRequest>;
    if (
      parsed.kind === 'rebaseline' &&
      typeof parsed.feed === 'string' &&
      typeof parsed.disk === 'string' &&
      typeof parsed.reason === 'string'
    ) {
      return parsed as RebaselineRequest;
    }
  } catch {
    // not ours: ignore
  }
  return null;
}

export async function openControlChannel(options: {
  readonly log: LogClient;
  readonly prefix: string;
  /** Session timeout of the listening consumer groups (see ConsumerOptions). */
  readonly sessionTimeoutMs?: number;
}): Promise<ControlChannel> {
  const topic = controlTopic(options.prefix);
  await options.log.admin.ensureTopic({ topic, partitions: 1, retentionMs: 24 * 3600 * 1000 });
  let producer: LogProducer | null = null;
  const consumers = new Set<LogConsumer>();
  return {
    async send(message) {
      producer ??= await options.log.producer({ maxInFlightBytes: 1024 * 1024 });
      try {
        await producer.send(topic, 0, [
          {
            key: Buffer.from(`${message.feed}/${message.disk}`),
            value: Buffer.from(JSON.stringify(message)),
          },
        ]);
      } catch (error) {
        const failed = producer;
        producer = null;
        await failed.close().catch(() => undefined);
        throw error;
      }
    },
    async listen(groupId, handler) {
      const consumer = await options.log.consumer({
        groupId,
        topics: [topic],
        fromBeginning: true,
        ...(options.sessionTimeoutMs === undefined
          ? {}
          : { sessionTimeoutMs: options.sessionTimeoutMs }),
      });
      consumers.add(consumer);
      await consumer.run({
        onBatch: async (batch) => {
          for (const message of batch.messages) {
            const parsed = parseControl(message.value);
            if (parsed !== null) handler(parsed);
          }
          const last = batch.messages[batch.messages.length - 1];
          if (last !== undefined)
            await consumer.commit([{ topic, partition: batch.partition, offset: last.offset + 1 }]);
        },
      });
      return async () => {
        consumers.delete(consumer);
        await consumer.stop();
      };
    },
    async close() {
      for (const consumer of consumers) await consumer.stop().catch(() => undefined);
      consumers.clear();
      await producer?.close().catch(() => undefined);
    },
  };
}
