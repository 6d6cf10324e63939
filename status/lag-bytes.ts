/**
 * How many bytes a target is behind on one partition: the sizes (key + value + headers) of
 * the records in [committed offset, end offset).
 *
 * Kafka tells no byte positions through its client APIs, and reading a whole backlog to
 * add it up would cost as much as replaying it. So:
 * - a backlog of up to `exactMaxRecords` records is read whole: the sum is exact;
 * - a longer one is cut into `strata` equal stretches and `windowRecords` consecutive records
 *   are read from the middle of each; each stretch counts as its length times the mean
 *   size of its window (stratified sampling: a FULL epoch's 1 MiB extents and a quiet
 *   hour's heartbeats in one backlog are both represented).
 * A short backlog is read again whenever it changed. A sampled estimate is reused for
 * `refreshMs`, its mean record size scaled to the current backlog. Either way this runs in
 * the background sampler: a status read never waits for the log.
 */
import type { ConsumedMessage, LogClient } from '../log/log-client.js';

export type LagBytesMethod = 'exact' | 'sampled' | 'unknown';

export interface LagBytesEstimate {
  readonly bytes: number | null;
  readonly method: LagBytesMethod;
}

export interface LagBytesOptions {
  readonly log: Pick<LogClient, 'readRange'>;
  readonly exactMaxRecords?: number;
  readonly strata?: number;
  readonly windowRecords?: number;
  readonly refreshMs?: number;
  readonly now?: () => number;
}

interface Measured {
  readonly fromOffset: number;
  readonly toOffset: number;
  readonly bytes: number;
  readonly method: 'exact' | 'sampled';
  readonly atMs: number;
}

export function recordSizeBytes(message: ConsumedMessage): number {
  let bytes = (message.key?.length ?? 0) + (message.value?.length ?? 0);
  for (const [name, value] of Object.entries(message.headers))
    bytes += Buffer.byteLength(name) + value.length;
  return bytes;
}

export class LagBytesEstimator {
  readonly #log: Pick<LogClient, 'readRange'>;
  readonly #exactMaxRecords: number;
  readonly #strata: number;
  readonly #windowRecords: number;
  readonly #refreshMs: number;
  readonly #now: () => number;
  readonly #measured = new Map<string, Measured>();

  constructor(options: LagBytesOptions) {
    this.#log = options.log;
    this.#exactMaxRecords = options.exactMaxRecords ?? 16;
    this.#strata = options.strata ?? 4;
    this.#windowRecords = options.windowRecords ?? 4;
    this.#refreshMs = options.refreshMs ?? 5000;
    this.#now = options.now ?? Date.now;
  }

  /** Bytes of the records in [fromOffset, toOffset) of the partition. */
  async estimate(
    topic: string,
    partition: number,
    fromOffset: number,
    toOffset: number,
  ): Promise<LagBytesEstimate> {
    const records = toOffset - fromOffset;
    if (records <= 0) return { bytes: 0, method: 'exact' };
    const key = `${topic}\u0000${partition}`;
    const previous = this.#measured.get(key);
    if (previous?.fromOffset === fromOffset && previous.toOffset === toOffset)
      return { bytes: previous.bytes, method: previous.method };
    // A long backlog changes slowly relative to its size: scale the last sample's mean record
    // size for a while. A short one is cheap to read again, and one record more or less
    // (a 1 MiB extent or a 100-byte marker) changes it a lot.
    if (
      previous?.method === 'sampled' &&
      records > this.#exactMaxRecords &&
      this.#now() - previous.atMs < this.#refreshMs
    ) {
      const meanBytes = previous.bytes / (previous.toOffset - previous.fromOffset);
      return { bytes: Math.round(meanBytes * records), method: 'sampled' };
    }
    try {
      const measured = await this.#measure(topic, partition, fromOffset, toOffset);
      this.#measured.set(key, measured);
      return { bytes: measured.bytes, method: measured.method };
    } catch {
      // Retention may have removed the range since the offsets were read: say so, not 0.
      this.#measured.delete(key);
      return { bytes: null, method: 'unknown' };
    }
  }

  /** Forgets partitions not in `keep` (targets or partitions that went away). */
  retain(keep: ReadonlySet<string>): void {
    for (const key of this.#measured.keys()) {
      const [topic, partition] = key.split('\u0000');
      if (!keep.has(`${topic}/${partition}`)) this.#measured.delete(key);
    }
  }

  async #measure(
    topic: string,
    partition: number,
    fromOffset: number,
    toOffset: number,
  ): Promise<Measured> {
    const records = toOffset - fromOffset;
    const atMs = this.#now();
    if (records <= this.#exactMaxRecords) {
      const sizes = await this.#sizes(topic, partition, fromOffset, toOffset);
      return { fromOffset, toOffset, bytes: sum(sizes), method: 'exact', atMs };
    }
    const strata: { records: number; meanBytes: number | null }[] = [];
    for (let stratum = 0; stratum < this.#strata; stratum += 1) {
      const start = fromOffset + Math.floor((records * stratum) / this.#strata);
      const end = fromOffset + Math.floor((records * (stratum + 1)) / this.#strata);
      const windowStart = Math.max(
        start,
        Math.floor((start + end) / 2) - Math.floor(this.#windowRecords / 2),
      );
      const windowEnd = Math.min(end, windowStart + this.#windowRecords);
      const sizes = await this.#sizes(topic, partition, windowStart, windowEnd);
      strata.push({
        records: end - start,
        meanBytes: sizes.length === 0 ? null : sum(sizes) / sizes.length,
      });
    }
    // Compaction can leave a window empty: such a stretch counts at the other windows' mean.
    const sampled = strata.flatMap(({ meanBytes }) => (meanBytes === null ? [] : [meanBytes]));
    if (sampled.length === 0) throw new Error(`no records left in ${topic}[${partition}]`);
    const overallMean = sum(sampled) / sampled.length;
    const bytes = sum(
      strata.map(({ records: count, meanBytes }) => count * (meanBytes ?? overallMean)),
    );
    return { fromOffset, toOffset, bytes: Math.round(bytes), method: 'sampled', atMs };
  }

  async #sizes(
    topic: string,
    partition: number,
    fromOffset: number,
    toOffset: number,
  ): Promise<number[]> {
    const sizes: number[] = [];
    for await (const message of this.#log.readRange({ topic, partition, fromOffset, toOffset }))
      sizes.push(recordSizeBytes(message));
    return sizes;
  }
}

function sum(values: readonly number[]): number {
  return values.reduce((total, value) => total + value, 0);
}
