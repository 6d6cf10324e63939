/**
 * Opening a partition directory. After a clean shutdown every segment has an index that
 * describes it exactly and a producer-state snapshot sits at the log end, so nothing is
 * scanned. Otherwise the last segment (and any segment whose index is missing, damaged or
 * stale) is scanned batch by batch with CRC-32C checks; the first unsound batch ends the log:
 * the file is cut there, later segments are removed (they lie beyond a hole), and the result
 * is fsynced before anything is served. Producer state comes from the newest usable snapshot
 * plus a header-only scan of the batches after it.
 */
import { mkdir, readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fsyncDirectory, TEMPORARY_SUFFIX, unlinkDurably } from './durable-file.js';
import { ProducerStateTable } from './producer-state.js';
import { SNAPSHOT_SUFFIX, snapshotFileName } from './producer-snapshots.js';
import { lastOffsetOf } from './record-batch-header.js';
import { INDEX_SUFFIX, LOG_SUFFIX, Segment, segmentFileStem } from './segment.js';
import { scanSegmentFile } from './segment-scanner.js';
import type { StoreLogger } from './store.js';

/** Suffix of a compacted segment not yet swapped in; garbage after a crash. */
export const CLEANED_SUFFIX = '.cleaned';
const STEM_PATTERN = /^(\d{20})(\.log|\.index|\.snapshot)$/;
const HEADER_SCAN_CHUNK_BYTES = 64 * 1024;

export interface PartitionLocation {
  readonly topic: string;
  readonly partition: number;
  readonly directory: string;
}

export interface RecoveredPartition {
  /** Ascending by base offset; the last is the active segment. Never empty. */
  readonly segments: Segment[];
  readonly producers: ProducerStateTable;
}

export async function recoverPartition(
  location: PartitionLocation,
  options: { cleanShutdown: boolean; indexIntervalBytes: number; logger: StoreLogger },
): Promise<RecoveredPartition> {
  const { directory } = location;
  const where = { topic: location.topic, partition: location.partition };
  await mkdir(directory, { recursive: true });
  const files = await listPartitionFiles(directory);
  if (files.garbage.length > 0) await unlinkDurably(directory, files.garbage);

  const segments: Segment[] = [];
  try {
    for (const [position, baseOffset] of files.logOffsets.entries()) {
      const isLast = position === files.logOffsets.length - 1;
      const { segment, needsScan } = await Segment.open(
        directory,
        baseOffset,
        options.indexIntervalBytes,
        options.cleanShutdown || !isLast,
      );
      const previous = segments.at(-1);
      if (previous !== undefined && baseOffset < previous.nextOffset) {
        options.logger.error(
          { ...where, segment: segment.logPath, expectedBaseOffset: previous.nextOffset },
          'segment overlaps its predecessor; it and later segments are removed',
        );
        await segment.retire();
        await removeSegments(directory, files.logOffsets.slice(position));
        break;
      }
      if (previous !== undefined && baseOffset > previous.nextOffset)
        options.logger.warn(
          { ...where, fromOffset: previous.nextOffset, toOffset: baseOffset },
          'offsets between two segments are absent: a segment file is missing, or compaction removed them',
        );
      const defect = needsScan ? await rebuildSegment(segment, options.indexIntervalBytes) : null;
      if (segment.sizeBytes === 0 && !isLast && defect === null) {
        options.logger.warn(
          { ...where, segment: segment.logPath },
          'removing an empty closed segment',
        );
        await segment.retire();
        await removeSegments(directory, [baseOffset]);
        continue;
      }
      segments.push(segment);
      if (needsScan && segment.sizeBytes > 0 && !isLast && defect === null)
        await segment.writeIndex();
      if (defect !== null) {
        options.logger.warn(
          { ...where, segment: segment.logPath, validBytes: segment.sizeBytes, defect },
          'truncated an unsound log tail left by a crash',
        );
        await removeSegments(directory, files.logOffsets.slice(position + 1));
        break;
      }
    }
    if (segments.length === 0) {
      if (files.logOffsets.length > 0 || files.snapshotOffsets.length > 0)
        options.logger.warn({ ...where }, 'no usable segment found; the partition restarts empty');
      segments.push(await Segment.create(directory, 0, options.indexIntervalBytes));
      await fsyncDirectory(directory);
    }
    const producers = await rebuildProducerState(
      location,
      segments,
      files.snapshotOffsets,
      options.logger,
    );
    return { segments, producers };
  } catch (error) {
    await Promise.all(segments.map((segment) => segment.retire()));
    throw error;
  }
}

/** Rescans a segment with CRC checks; cuts (durably) an unsound tail. Returns the defect, if any. */
export async function rebuildSegment(
  segment: Segment,
  indexIntervalBytes: number,
): Promise<string | null> {
  const fileBytes = segment.sizeBytes;
  segment.resetForScan(indexIntervalBytes);
  const end = await scanSegmentFile(
    segment.fileHandle,
    { startBytes: 0, endBytes: fileBytes, minBaseOffset: segment.baseOffset, verifyCrc: true },
    ({ header, positionBytes }) => segment.addBatch(header, positionBytes),
  );
  if (end.defect !== null) await segment.truncate(end.endBytes);
  else await segment.fileHandle.datasync();
  return end.defect;
}

async function rebuildProducerState(
  location: PartitionLocation,
  segments: readonly Segment[],
  snapshotOffsets: readonly number[],
  logger: StoreLogger,
): Promise<ProducerStateTable> {
  const producers = new ProducerStateTable({
    topic: location.topic,
    partition: location.partition,
  });
  const logEnd = segments.at(-1)?.nextOffset ?? 0;
  let from = segments[0]?.baseOffset ?? 0;
  const stale: number[] = [];
  for (const offset of [...snapshotOffsets].sort((a, b) => b - a)) {
    if (offset > logEnd) {
      stale.push(offset);
      continue;
    }
    const snapshotPath = path.join(location.directory, snapshotFileName(offset));
    if (producers.load(await readFile(snapshotPath)) === offset) {
      from = offset;
      break;
    }
    logger.warn(
      { topic: location.topic, partition: location.partition, snapshotPath },
      'ignoring an unreadable producer-state snapshot',
    );
    stale.push(offset);
  }
  if (stale.length > 0)
    await unlinkDurably(
      location.directory,
      stale.map((offset) => snapshotFileName(offset)),
    );
  for (const segment of segments) {
    if (segment.nextOffset <= from) continue;
    const startBytes = segment.baseOffset >= from ? 0 : segment.index.positionForOffset(from);
    await scanSegmentFile(
      segment.fileHandle,
      {
        startBytes,
        endBytes: segment.sizeBytes,
        minBaseOffset: 0,
        verifyCrc: false,
        chunkBytes: HEADER_SCAN_CHUNK_BYTES,
      },
      ({ header }) => {
        if (lastOffsetOf(header) >= from) producers.record(header);
      },
    );
  }
  return producers;
}

interface PartitionFiles {
  readonly logOffsets: number[];
  readonly snapshotOffsets: number[];
  readonly garbage: string[];
}

async function listPartitionFiles(directory: string): Promise<PartitionFiles> {
  const names = await readdir(directory);
  const logOffsets: number[] = [];
  const snapshotOffsets: number[] = [];
  const indexStems = new Set<string>();
  const garbage: string[] = [];
  for (const name of names) {
    const match = STEM_PATTERN.exec(name);
    if (match === null) {
      if (name.endsWith(TEMPORARY_SUFFIX) || name.endsWith(CLEANED_SUFFIX)) garbage.push(name);
      continue;
    }
    const [, stem = '', suffix] = match;
    if (suffix === LOG_SUFFIX) logOffsets.push(Number(stem));
    else if (suffix === SNAPSHOT_SUFFIX) snapshotOffsets.push(Number(stem));
    else indexStems.add(stem);
  }
  logOffsets.sort((a, b) => a - b);
  const logStems = new Set(logOffsets.map(segmentFileStem));
  for (const stem of indexStems) if (!logStems.has(stem)) garbage.push(stem + INDEX_SUFFIX);
  return { logOffsets, snapshotOffsets, garbage };
}

export async function removeSegments(
  directory: string,
  baseOffsets: readonly number[],
): Promise<void> {
  if (baseOffsets.length === 0) return;
  await unlinkDurably(
    directory,
    baseOffsets.flatMap((offset) => [
      segmentFileStem(offset) + LOG_SUFFIX,
      segmentFileStem(offset) + INDEX_SUFFIX,
    ]),
  );
}
