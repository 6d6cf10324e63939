/**
 * An in-memory `BrokerStore` for unit tests of the protocol layer: batches kept as buffers,
 * offsets assigned by rewriting baseOffset, idempotent retries recognised by
 * (producerId, baseSequence). No CRC checks, no retention, nothing durable.
 */
import type {
  AppendResult,
  BrokerStore,
  CommittedOffset,
  PartitionLog,
  ReadResult,
  TopicConfig,
  TopicMetadata,
} from '../../log/broker/storage/store.js';
import { StoreError } from '../../log/broker/storage/store.js';

interface StoredBatch {
  readonly baseOffset: number;
  readonly lastOffset: number;
  readonly maxTimestampMs: number;
  readonly bytes: Buffer;
}

class MemoryPartition implements PartitionLog {
  readonly batches: StoredBatch[] = [];
  private nextOffset = 0;
  private readonly waiters = new Set<() => void>();
  private readonly sequences = new Map<string, number>();

  constructor(
    readonly topic: string,
    readonly partition: number,
  ) {}

  logStartOffset(): number {
    return 0;
  }

  highWatermark(): number {
    return this.nextOffset;
  }

  async append(batches: Buffer): Promise<AppendResult> {
    let position = 0;
    let first = -1;
    while (position + 61 <= batches.length) {
      const lengthBytes = batches.readInt32BE(position + 8) + 12;
      if (batches.readInt8(position + 16) !== 2 || position + lengthBytes > batches.length) {
        throw new StoreError('CORRUPT_MESSAGE', 'bad batch');
      }
      const batch = batches.subarray(position, position + lengthBytes);
      const producerId = Number(batch.readBigInt64BE(43));
      const key = `${producerId}:${batch.readInt32BE(53)}`;
      const seen = producerId >= 0 ? this.sequences.get(key) : undefined;
      if (seen !== undefined) {
        return { baseOffset: seen, logAppendTimeMs: -1, logStartOffset: 0, duplicate: true };
      }
      const baseOffset = this.nextOffset;
      const lastOffsetDelta = batch.readInt32BE(23);
      batch.writeBigInt64BE(BigInt(baseOffset), 0);
      this.batches.push({
        baseOffset,
        lastOffset: baseOffset + lastOffsetDelta,
        maxTimestampMs: Number(batch.readBigInt64BE(35)),
        bytes: Buffer.from(batch),
      });
      if (producerId >= 0) this.sequences.set(key, baseOffset);
      if (first < 0) first = baseOffset;
      this.nextOffset = baseOffset + lastOffsetDelta + 1;
      position += lengthBytes;
    }
    if (first < 0 || position !== batches.length)
      throw new StoreError('CORRUPT_MESSAGE', 'bad batch');
    for (const wake of this.waiters) wake();
    return { baseOffset: first, logAppendTimeMs: -1, logStartOffset: 0, duplicate: false };
  }

  async read(fetchOffset: number, maxBytes: number): Promise<ReadResult> {
    if (fetchOffset < 0 || fetchOffset > this.nextOffset) {
      throw new StoreError('OFFSET_OUT_OF_RANGE', `offset ${fetchOffset}`);
    }
    const parts: Buffer[] = [];
    let bytes = 0;
    for (const batch of this.batches) {
      if (batch.lastOffset < fetchOffset) continue;
      if (parts.length > 0 && bytes + batch.bytes.length > maxBytes) break;
      parts.push(batch.bytes);
      bytes += batch.bytes.length;
    }
    return { records: Buffer.concat(parts), highWatermark: this.nextOffset, logStartOffset: 0 };
  }

  waitForData(offset: number, timeoutMs: number, signal?: AbortSignal): Promise<void> {
    if (this.nextOffset > offset) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(wake);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const wake = () => {
        if (this.nextOffset > offset) done();
      };
      const timer = setTimeout(done, timeoutMs);
      this.waiters.add(wake);
      signal?.addEventListener('abort', done);
    });
  }

  async offsetForTimestamp(timestampMs: number): Promise<number | null> {
    const batch = this.batches.find((candidate) => candidate.maxTimestampMs >= timestampMs);
    return batch === undefined ? null : batch.baseOffset;
  }
}

export class MemoryStore implements BrokerStore {
  readonly dataDir = ':memory:';
  private readonly topicMap = new Map<string, { meta: TopicMetadata; logs: MemoryPartition[] }>();
  private readonly offsets = new Map<string, Map<string, CommittedOffset>>();
  private nextProducerId = 1000;

  constructor(private readonly defaults: TopicConfig) {}

  topics(): readonly TopicMetadata[] {
    return [...this.topicMap.values()].map((entry) => entry.meta);
  }

  topic(name: string): TopicMetadata | undefined {
    return this.topicMap.get(name)?.meta;
  }

  async createTopic(name: string, partitions: number, config: Partial<TopicConfig>) {
    if (this.topicMap.has(name)) throw new StoreError('TOPIC_ALREADY_EXISTS', name);
    const meta = {
      name,
      partitions,
      config: { ...this.defaults, ...config },
      createdAtMs: Date.now(),
    };
    const logs = Array.from({ length: partitions }, (_, index) => new MemoryPartition(name, index));
    this.topicMap.set(name, { meta, logs });
    return meta;
  }

  async createPartitions(name: string, totalCount: number) {
    const entry = this.topicMap.get(name);
    if (entry === undefined) throw new StoreError('UNKNOWN_TOPIC_OR_PARTITION', name);
    while (entry.logs.length < totalCount)
      entry.logs.push(new MemoryPartition(name, entry.logs.length));
    entry.meta = { ...entry.meta, partitions: totalCount };
    return entry.meta;
  }

  async deleteTopic(name: string): Promise<void> {
    this.topicMap.delete(name);
  }

  partition(topic: string, partition: number): PartitionLog | undefined {
    return this.topicMap.get(topic)?.logs[partition];
  }

  async allocateProducerId() {
    return { producerId: this.nextProducerId++, producerEpoch: 0 };
  }

  async commitOffsets(
    groupId: string,
    offsets: readonly Omit<CommittedOffset, 'commitTimestampMs'>[],
  ) {
    const group = this.offsets.get(groupId) ?? new Map<string, CommittedOffset>();
    for (const entry of offsets) {
      group.set(`${entry.topic}\0${entry.partition}`, { ...entry, commitTimestampMs: Date.now() });
    }
    this.offsets.set(groupId, group);
  }

  fetchOffsets(groupId: string, topics?: readonly string[]): readonly CommittedOffset[] {
    return [...(this.offsets.get(groupId)?.values() ?? [])].filter(
      (entry) => topics === undefined || topics.includes(entry.topic),
    );
  }

  offsetGroups(): readonly string[] {
    return [...this.offsets.keys()];
  }

  async deleteGroupOffsets(groupId: string): Promise<void> {
    this.offsets.delete(groupId);
  }

  async enforceRetention(): Promise<void> {}

  diskUsageBytes(): number {
    return 0;
  }

  async close(): Promise<void> {}
}
