/**
 * Retention (Kafka's log cleaner policies, `cleanup.policy`):
 *   delete  — the oldest closed segments go when their newest batch is older than
 *             retention.ms, or while the partition without them is still ≥ retention.bytes;
 *   compact — closed segments are rewritten keeping the latest record per key (compaction.ts).
 * Only settled segments (closed and wholly below the high watermark) are touched, so the
 * active segment and anything not yet durable never are. Deleting whole segments from the
 * front is what advances logStartOffset; the unlink is fsynced before the next one.
 * Segments without timestamps (max timestamp -1) never expire by time.
 */
import { compactPartition } from './compaction.js';
import type { DiskPartitionLog } from './partition-log.js';
import type { StoreLogger, TopicConfig } from './store.js';

export interface SegmentFacts {
  readonly sizeBytes: number;
  readonly maxTimestampMs: number;
}

/** How many of the oldest `settled` segments the delete policy removes. */
export function expiredSegmentCount(
  settled: readonly SegmentFacts[],
  partitionBytes: number,
  config: Pick<TopicConfig, 'retentionMs' | 'retentionBytes'>,
  nowMs: number,
): number {
  let byTime = 0;
  if (config.retentionMs >= 0)
    while (byTime < settled.length) {
      const maxTimestampMs = settled[byTime]?.maxTimestampMs ?? -1;
      if (maxTimestampMs < 0 || maxTimestampMs >= nowMs - config.retentionMs) break;
      byTime += 1;
    }
  let bySize = 0;
  if (config.retentionBytes >= 0) {
    let excessBytes = partitionBytes - config.retentionBytes;
    while (bySize < settled.length) {
      const sizeBytes = settled[bySize]?.sizeBytes ?? 0;
      if (excessBytes - sizeBytes < 0) break;
      excessBytes -= sizeBytes;
      bySize += 1;
    }
  }
  return Math.max(byTime, bySize);
}

export async function enforcePartitionRetention(
  partition: DiskPartitionLog,
  config: TopicConfig,
  nowMs: number,
  settings: { readonly producerIdExpirationMs: number; readonly logger: StoreLogger },
): Promise<void> {
  partition.expireProducers(nowMs, settings.producerIdExpirationMs);
  if (config.cleanupPolicy === 'compact') {
    await partition.maintain(() => compactPartition(partition, config, nowMs, settings.logger));
    return;
  }
  const settled = partition.settledSegments();
  const count = expiredSegmentCount(settled, partition.sizeBytes(), config, nowMs);
  if (count === 0) return;
  const before = partition.logStartOffset();
  await partition.maintain(() => partition.dropSegments(settled.slice(0, count)));
  settings.logger.info(
    {
      topic: partition.topic,
      partition: partition.partition,
      segments: count,
      logStartOffset: partition.logStartOffset(),
      previousLogStartOffset: before,
    },
    'retention deleted old segments',
  );
}
