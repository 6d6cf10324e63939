/**
 * Restore points are records: the compacted topic `<prefix>.restore-points`, keyed
 * `<target>/<feed>/<disk>`, so Kafka tooling, the status API and `verify` read the same
 * truth. A replay publishes one (acks=all) after every extent of the epoch is durable on
 * its target, and before it commits the consumer offsets past the SyncCommit.
 */
import type { LogClient, LogProducer } from '../log/log-client.js';
import type { RestorePoint } from '../schemas/restore-point.js';
import {
  parseRestorePointKey,
  restorePointKey,
  type RestorePointKeyParts,
} from '../schemas/restore-point.js';

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
  const startProducer = (): Promise<LogProducer> => {
    const starting = options.log.producer({ maxInFlightBytes: 1024 * 1024 });
    // A producer that fails to start is reported by the publish that waits for it.
    starting.catch(() => undefined);
    producer = starting;
    return starting;
  };
  // Started now rather than at the first restore point, which would otherwise wait for the
  // producer's set-up (librdkafka's idempotent producer can take half a second to obtain
  // its producer id when its first broker connection is still being replaced).
  startProducer();
  return {
    async publish(point) {
      const starting = producer ?? startProducer();
      let ready: LogProducer;
      try {
        ready = await starting;
      } catch (error) {
        // The next publish starts a new one.
        if (producer === starting) producer = null;
        throw error;
      }
      try {
        await ready.send(options.topic, 0, [
          { key: restorePointKey(point), value: options.codec.encode(point) },
        ]);
      } catch (error) {
        // A failed producer takes no more sends: the next publish starts a new one.
        if (producer === starting) producer = null;
        await ready.close().catch(() => undefined);
        throw error;
      }
    },
    async close() {
      const current = producer;
      producer = null;
      if (current === null) return;
      const ready = await current.catch(() => null);
      await ready?.close();
    },
  };
}

interface RestorePointScan {
  readonly log: LogClient;
  readonly topic: string;
  readonly codec: RestorePointCodec;
}

/** Every record of the topic in offset order: a restore point, or null for a tombstone. */
async function* scanRestorePoints(
  options: RestorePointScan,
): AsyncIterable<{ key: string; point: RestorePoint | null }> {
  const topics = await options.log.admin.listTopics();
  if (!topics.includes(options.topic)) return;
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
      yield {
        key: `${parts.target}/${parts.feed}/${parts.disk}`,
        point: message.value === null ? null : await options.codec.decode(message.value),
      };
    }
  }
}

/** The latest restore point per `<target>/<feed>/<disk>`, read from the whole (compacted) topic. */
export async function readRestorePoints(
  options: RestorePointScan,
): Promise<Map<string, RestorePoint>> {
  const latest = new Map<string, RestorePoint>();
  for await (const { key, point } of scanRestorePoints(options)) {
    if (point === null) latest.delete(key);
    else latest.set(key, point);
  }
  return latest;
}

/** Every restore point still in the topic, in log order (a tombstone drops its key's earlier ones). */
export async function readRestorePointLog(options: RestorePointScan): Promise<RestorePoint[]> {
  let retained: { key: string; point: RestorePoint }[] = [];
  for await (const { key, point } of scanRestorePoints(options)) {
    if (point === null) retained = retained.filter((entry) => entry.key !== key);
    else retained.push({ key, point });
  }
  return retained.map(({ point }) => point);
}

/**
 * The restore points of one target and disk still in the topic, oldest first. Compaction
 * keeps only the latest per key, so older ones are there only until the log is compacted.
 */
export async function readRestorePointHistory(
  options: RestorePointScan & { readonly key: RestorePointKeyParts },
): Promise<RestorePoint[]> {
  const wanted = `${options.key.target}/${options.key.feed}/${options.key.disk}`;
  let history: RestorePoint[] = [];
  for await (const { key, point } of scanRestorePoints(options)) {
    if (key !== wanted) continue;
    if (point === null) history = [];
    else history.push(point);
  }
  return history;
}
