/**
 * Restore points are records: the compacted topic `<prefix>.restore-points`, keyed
 * `<target>/<feed>/<disk>`, so Kafka tooling, the status API and `verify` read the same
 * truth. A replay publishes one (acks=all) after every extent of the epoch is durable on
 * its target, and before it commits the consumer offsets past the SyncCommit.
 */
import type { LogClient, LogProducer } from '../log/log-client.js';
import type { RestorePoint } from '../schemas/restore-point.js';
import { parseRestorePointKey, restorePointKey } from '../schemas/restore-point.js';

export interface RestorePointCodec {
  encode(point: RestorePoint): Buffer;
  decode(frame: Buffer): Promise<RestorePoint>;
}

export interface RestorePointWriter {
  publish(point: RestorePoint): Promise<void>;
  close(): Promise<void>;
}

export function createRestorePointWriter(options: {
  readonly log: LogClient;
  readonly topic: string;
  readonly codec: RestorePointCodec;
}): RestorePointWriter {
  let producer: Promise<LogProducer> | null = null;
  return {
    async publish(point) {
      producer ??= options.log.producer({ maxInFlightBytes: 1024 * 1024 });
      const ready = await producer;
      try {
        await ready.send(options.topic, 0, [
          { key: restorePointKey(point), value: options.codec.encode(point) },
        ]);
      } catch (error) {
        // A failed producer takes no more sends: the next publish starts a new one.
        producer = null;
        await ready.close().catch(() => undefined);
        throw error;
      }
    },
    async close() {
      const current = producer;
      producer = null;
      if (current !== null) await (await current).close();
    },
  };
}

/** The latest restore point per target and disk, read from the whole (compacted) topic. */
export async function readRestorePoints(options: {
  readonly log: LogClient;
  readonly topic: string;
  readonly codec: RestorePointCodec;
}): Promise<Map<string, RestorePoint>> {
  const latest = new Map<string, RestorePoint>();
  const topics = await options.log.admin.listTopics();
  if (!topics.includes(options.topic)) return latest;
  for (const { partition, startOffset, endOffset } of await options.log.admin.offsets(
    options.topic,
  )) {
    if (endOffset <= startOffset) continue;
    for await (const message of options.log.readRange({
      topic: options.topic,
      partition,
      fromOffset: startOffset,
      toOffset: endOffset,
    })) {
      if (message.key === null) continue;
      const parts = parseRestorePointKey(message.key);
      const key = `${parts.target}/${parts.feed}/${parts.disk}`;
      if (message.value === null) latest.delete(key);
      else latest.set(key, await options.codec.decode(message.value));
    }
  }
  return latest;
}
