/**
 * Idempotent-producer state of one partition (KIP-98): per producer id the current epoch
 * and the sequence ranges and offsets of its last five batches, which is what a retry can
 * match. Rules, as a Kafka 2.x broker applies them to client appends:
 *   - producer id < 0: not idempotent, no checks;
 *   - unknown producer id: the first batch must start at sequence 0 (UNKNOWN_PRODUCER_ID);
 *   - epoch below the known one: fenced (INVALID_PRODUCER_EPOCH);
 *   - epoch above the known one: a new session, sequences restart at 0;
 *   - same epoch: an exact repeat of a retained batch is a duplicate (answered with its
 *     original offset, not appended); otherwise baseSequence must follow the last batch's
 *     last sequence (OUT_OF_ORDER_SEQUENCE_NUMBER).
 * Sequences are int32 and wrap from 2^31-1 to 0.
 * The state is rebuilt on open from a snapshot (`<offset>.snapshot`, the state after all
 * batches below that offset) plus a header scan of the batches after it.
 */
import { StoreError } from './errors.js';
import { lastOffsetOf, lastSequenceOf, type BatchHeader } from './record-batch-header.js';

export const RETAINED_BATCHES_PER_PRODUCER = 5;
const SEQUENCE_MODULUS = 0x8000_0000;
const SNAPSHOT_VERSION = 1;

interface RetainedBatch {
  readonly firstSequence: number;
  readonly lastSequence: number;
  readonly firstOffset: number;
  readonly lastOffset: number;
}

interface ProducerEntry {
  epoch: number;
  /** Oldest first, at most RETAINED_BATCHES_PER_PRODUCER. */
  batches: RetainedBatch[];
  /** Max timestamp of the producer's last batch; expiration counts from it. */
  lastTimestampMs: number;
}

export type SequenceVerdict =
  | { readonly kind: 'append' }
  | { readonly kind: 'duplicate'; readonly baseOffset: number; readonly lastOffset: number };

export class ProducerStateTable {
  private readonly producers = new Map<number, ProducerEntry>();

  constructor(private readonly where: { topic: string; partition: number }) {}

  get producerCount(): number {
    return this.producers.size;
  }

  /**
   * Decides whether an entry's batches are new (to append) or a retry already in the log.
   * A mix of both is refused as out of order: a client retries whole entries.
   */
  checkEntry(headers: readonly BatchHeader[]): SequenceVerdict {
    const expectedNext = new Map<number, { epoch: number; sequence: number }>();
    let duplicate: { baseOffset: number; lastOffset: number } | null = null;
    let appends = 0;
    for (const header of headers) {
      if (header.producerId < 0) {
        appends += 1;
        continue;
      }
      const match = this.checkBatch(header, expectedNext.get(header.producerId));
      if (match === null) {
        appends += 1;
        expectedNext.set(header.producerId, {
          epoch: header.producerEpoch,
          sequence: (lastSequenceOf(header) + 1) % SEQUENCE_MODULUS,
        });
      } else {
        duplicate ??= { baseOffset: match.firstOffset, lastOffset: match.lastOffset };
        duplicate.lastOffset = match.lastOffset;
      }
    }
    if (duplicate === null) return { kind: 'append' };
    if (appends > 0)
      throw this.error(
        'OUT_OF_ORDER_SEQUENCE_NUMBER',
        `a produce entry for ${this.label()} mixes retried and new batches`,
        {},
      );
    return { kind: 'duplicate', ...duplicate };
  }

  /** Accounts a batch that is now in the log (append, or a scan on open). */
  record(header: BatchHeader): void {
    if (header.producerId < 0) return;
    let entry = this.producers.get(header.producerId);
    if (entry === undefined || header.producerEpoch !== entry.epoch) {
      entry = { epoch: header.producerEpoch, batches: [], lastTimestampMs: -1 };
      this.producers.set(header.producerId, entry);
    }
    entry.batches.push({
      firstSequence: header.baseSequence,
      lastSequence: lastSequenceOf(header),
      firstOffset: header.baseOffset,
      lastOffset: lastOffsetOf(header),
    });
    if (entry.batches.length > RETAINED_BATCHES_PER_PRODUCER) entry.batches.shift();
    entry.lastTimestampMs = Math.max(entry.lastTimestampMs, header.maxTimestamp);
  }

  /** Drops producers whose last batch is older than `expirationMs` at `nowMs`. */
  expire(nowMs: number, expirationMs: number): number {
    let dropped = 0;
    for (const [producerId, entry] of this.producers)
      if (nowMs - entry.lastTimestampMs >= expirationMs) {
        this.producers.delete(producerId);
        dropped += 1;
      }
    return dropped;
  }

  serialize(nextOffset: number): Buffer {
    return Buffer.from(
      JSON.stringify({
        version: SNAPSHOT_VERSION,
        nextOffset,
        producers: [...this.producers].map(([producerId, entry]) => ({ producerId, ...entry })),
      }),
    );
  }

  /** Replaces the state with a snapshot's; returns the snapshot's offset, or null if unusable. */
  load(snapshot: Buffer): number | null {
    let parsed: unknown;
    try {
      parsed = JSON.parse(snapshot.toString('utf8'));
    } catch {
      return null;
    }
    if (!isSnapshot(parsed)) return null;
    this.producers.clear();
    for (const { producerId, epoch, batches, lastTimestampMs } of parsed.producers)
      this.producers.set(producerId, { epoch, batches, lastTimestampMs });
    return parsed.nextOffset;
  }

  /** The retained batch `header` repeats, or null when it is the next in sequence. */
  private checkBatch(
    header: BatchHeader,
    pending: { epoch: number; sequence: number } | undefined,
  ): RetainedBatch | null {
    const entry = this.producers.get(header.producerId);
    const details = {
      producerId: header.producerId,
      producerEpoch: header.producerEpoch,
      baseSequence: header.baseSequence,
    };
    if (pending === undefined && entry === undefined) {
      if (header.baseSequence === 0) return null;
      throw this.error(
        'UNKNOWN_PRODUCER_ID',
        `producer ${header.producerId} is unknown on ${this.label()} (never seen, or expired) and its batch starts at sequence ${header.baseSequence}; a new producer must start at 0 — re-initialise the producer (InitProducerId)`,
        details,
      );
    }
    const knownEpoch = pending?.epoch ?? entry?.epoch ?? header.producerEpoch;
    if (header.producerEpoch < knownEpoch)
      throw this.error(
        'INVALID_PRODUCER_EPOCH',
        `producer ${header.producerId} on ${this.label()} sent epoch ${header.producerEpoch}, but epoch ${knownEpoch} is current; this producer was fenced by a newer instance`,
        details,
      );
    if (pending === undefined && entry !== undefined && header.producerEpoch > entry.epoch) {
      if (header.baseSequence === 0) return null;
      throw this.error(
        'OUT_OF_ORDER_SEQUENCE_NUMBER',
        `producer ${header.producerId} on ${this.label()} started epoch ${header.producerEpoch} at sequence ${header.baseSequence}; a new epoch must start at 0`,
        details,
      );
    }
    const lastSequence = lastSequenceOf(header);
    if (pending === undefined && entry !== undefined) {
      const repeated = entry.batches.find(
        (batch) =>
          batch.firstSequence === header.baseSequence && batch.lastSequence === lastSequence,
      );
      if (repeated !== undefined) return repeated;
    }
    const lastBatch = entry?.batches.at(-1);
    const expected =
      pending?.sequence ??
      (lastBatch === undefined ? 0 : (lastBatch.lastSequence + 1) % SEQUENCE_MODULUS);
    if (header.baseSequence === expected) return null;
    throw this.error(
      'OUT_OF_ORDER_SEQUENCE_NUMBER',
      `producer ${header.producerId} epoch ${header.producerEpoch} on ${this.label()}: expected sequence ${expected}, received ${header.baseSequence}..${lastSequence}`,
      { ...details, expectedSequence: expected },
    );
  }

  private error(
    code: 'UNKNOWN_PRODUCER_ID' | 'INVALID_PRODUCER_EPOCH' | 'OUT_OF_ORDER_SEQUENCE_NUMBER',
    message: string,
    details: Record<string, unknown>,
  ): StoreError {
    return new StoreError(code, message, { ...this.where, ...details });
  }

  private label(): string {
    return `${this.where.topic}-${this.where.partition}`;
  }
}

interface Snapshot {
  version: number;
  nextOffset: number;
  producers: (ProducerEntry & { producerId: number })[];
}

function isSnapshot(value: unknown): value is Snapshot {
  const candidate = value as Partial<Snapshot> | null;
  return (
    typeof candidate === 'object' &&
    candidate !== null &&
    candidate.version === SNAPSHOT_VERSION &&
    typeof candidate.nextOffset === 'number' &&
    Array.isArray(candidate.producers) &&
    candidate.producers.every(
      (producer) =>
        typeof producer.producerId === 'number' &&
        typeof producer.epoch === 'number' &&
        typeof producer.lastTimestampMs === 'number' &&
        Array.isArray(producer.batches),
    )
  );
}
