/**
 * Log compaction (`cleanup.policy=compact`, Kafka's log cleaner): every settled segment is
 * rewritten keeping, per key, only the record with the highest offset among the settled
 * segments. Records keep their offsets (gaps are legal; readers skip them); a rewritten batch
 * keeps its baseOffset, lastOffsetDelta, timestamps and producer fields and gets a new
 * length, record count and CRC. Tombstones (null values) that are the latest for their key
 * are dropped once older than delete.retention.ms. Batches whose records cannot be read
 * here (snappy, lz4, zstd, control batches) are kept as they are and do not take part.
 *
 * A segment is rewritten to `<stem>.log.cleaned`, fsynced, renamed over the original
 * (atomic), then reopened; readers of the old file keep its handle until they finish.
 * A crash leaves either the old file (the `.cleaned` one is discarded on open) or the new
 * one with a stale index, which recovery rebuilds.
 */
import { open, unlink } from 'node:fs/promises';
import path from 'node:path';
import { fsyncDirectory, renameDurably } from './durable-file.js';
import type { DiskPartitionLog } from './partition-log.js';
import { CLEANED_SUFFIX, rebuildSegment } from './partition-recovery.js';
import { writeFully } from './positional-io.js';
import type { BatchHeader } from './record-batch-header.js';
import {
  decodeRecords,
  rebuildBatch,
  recordsAreDecodable,
  type RecordView,
} from './record-batch-records.js';
import { Segment } from './segment.js';
import { scanSegmentFile } from './segment-scanner.js';
import type { StoreLogger, TopicConfig } from './store.js';

/** Distinct keys one pass maps; later segments wait for the next pass beyond this. */
export const MAX_KEYS_PER_PASS = 1_000_000;
const WRITE_BUFFER_BYTES = 1024 * 1024;

/** What the last pass covered, so an unchanged partition is not rewritten again. */
export interface CompactionState {
  cleanedThroughOffset: number;
  /** When the oldest kept tombstone becomes removable. */
  tombstoneDeadlineMs: number;
}

export async function compactPartition(
  partition: DiskPartitionLog,
  config: TopicConfig,
  nowMs: number,
  logger: StoreLogger,
): Promise<void> {
  const settled = partition.settledSegments();
  const state = partition.compactionState;
  const through = settled.at(-1)?.nextOffset ?? -1;
  if (through <= state.cleanedThroughOffset && nowMs < state.tombstoneDeadlineMs) return;
  const { latest, mapped } = await mapLatestOffsets(settled);
  const removeTombstonesBefore = nowMs - config.deleteRetentionMs;
  let tombstoneDeadlineMs = Infinity;
  let removedRecords = 0;
  for (const segment of mapped) {
    const result = await cleanSegment(partition, segment, (header, record) => {
      const offset = header.baseOffset + record.offsetDelta;
      if (record.key === null) return true;
      if ((latest.get(record.key.toString('latin1')) ?? offset) > offset) return false;
      if (!record.isTombstone) return true;
      const timestampMs = header.baseTimestamp + record.timestampDelta;
      if (timestampMs < removeTombstonesBefore) return false;
      tombstoneDeadlineMs = Math.min(tombstoneDeadlineMs, timestampMs + config.deleteRetentionMs);
      return true;
    });
    removedRecords += result.removedRecords;
  }
  state.cleanedThroughOffset = mapped.at(-1)?.nextOffset ?? state.cleanedThroughOffset;
  state.tombstoneDeadlineMs = tombstoneDeadlineMs;
  if (removedRecords > 0)
    logger.info(
      {
        topic: partition.topic,
        partition: partition.partition,
        segments: mapped.length,
        removedRecords,
      },
      'compacted closed segments',
    );
}

/** key (latin1) → highest offset, over a prefix of `segments` holding ≤ MAX_KEYS_PER_PASS keys. */
async function mapLatestOffsets(
  segments: readonly Segment[],
): Promise<{ latest: Map<string, number>; mapped: Segment[] }> {
  const latest = new Map<string, number>();
  const mapped: Segment[] = [];
  for (const segment of segments) {
    const scanned = await scanRecords(segment, (header, records) => {
      for (const record of records)
        if (record.key !== null)
          latest.set(record.key.toString('latin1'), header.baseOffset + record.offsetDelta);
    });
    if (!scanned) break;
    mapped.push(segment);
    if (latest.size >= MAX_KEYS_PER_PASS) break;
  }
  return { latest, mapped };
}

/**
 * Visits every batch of a segment with the records compaction can rewrite (none for batches
 * kept as they are). False when the segment was retired before the scan could start.
 */
async function scanRecords(
  segment: Segment,
  visit: (header: BatchHeader, records: RecordView[], bytes: Buffer) => void | Promise<void>,
): Promise<boolean> {
  if (!segment.acquire()) return false;
  try {
    await scanSegmentFile(
      segment.fileHandle,
      {
        startBytes: 0,
        endBytes: segment.sizeBytes,
        minBaseOffset: 0,
        verifyCrc: false,
        wholeBatches: true,
      },
      ({ header, bytes }) =>
        bytes === null ? undefined : visit(header, readableRecords(header, bytes), bytes),
    );
    return true;
  } finally {
    segment.release();
  }
}

function readableRecords(header: BatchHeader, bytes: Buffer): RecordView[] {
  if (!recordsAreDecodable(header)) return [];
  try {
    return decodeRecords(bytes, header);
  } catch {
    return [];
  }
}

async function cleanSegment(
  partition: DiskPartitionLog,
  segment: Segment,
  keep: (header: BatchHeader, record: RecordView) => boolean,
): Promise<{ removedRecords: number }> {
  const cleanedPath = segment.logPath + CLEANED_SUFFIX;
  const output = await open(cleanedPath, 'w');
  let removedRecords = 0;
  let outputBytes = 0;
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  const drain = async () => {
    await writeFully(output, Buffer.concat(pending), outputBytes);
    outputBytes += pendingBytes;
    pending = [];
    pendingBytes = 0;
  };
  let scanned: boolean;
  try {
    scanned = await scanRecords(segment, (header, records, bytes) => {
      const kept = records.filter((record) => keep(header, record));
      removedRecords += records.length - kept.length;
      if (kept.length === 0 && records.length > 0) return;
      const out =
        kept.length === records.length ? Buffer.from(bytes) : rebuildBatch(bytes, header, kept);
      pending.push(out);
      pendingBytes += out.length;
      return pendingBytes >= WRITE_BUFFER_BYTES ? drain() : undefined;
    });
    if (pendingBytes > 0) await drain();
    await output.datasync();
  } finally {
    await output.close();
  }
  if (!scanned) removedRecords = 0;
  if (removedRecords === 0) {
    await unlink(cleanedPath);
    return { removedRecords };
  }
  if (outputBytes === 0) {
    await unlink(cleanedPath);
    await partition.dropSegments([segment]);
    return { removedRecords };
  }
  await renameDurably(cleanedPath, segment.logPath);
  const { segment: replacement } = await Segment.open(
    path.dirname(segment.logPath),
    segment.baseOffset,
    partition.indexIntervalBytes,
    false,
  );
  await rebuildSegment(replacement, partition.indexIntervalBytes);
  await replacement.writeIndex();
  await fsyncDirectory(path.dirname(segment.logPath));
  await partition.replaceSegment(segment, replacement);
  return { removedRecords };
}
