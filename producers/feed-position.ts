/**
 * Where a disk's replication stands, read back from the log — the log, not a private state
 * file, is the source of truth. A disk's records all sit in one partition, in order; its
 * tail tells the next seq and epoch, the last SyncCommit tells the committed epoch and its
 * source reference, and the Extent records after that commit (an aborted or interrupted
 * epoch) tell which ranges targets may hold from an epoch that never committed: the next
 * epoch re-sends them, so that every target converges on the source.
 *
 * The tail is scanned backwards in growing windows, keeping only record metadata, so the
 * scan costs what the uncommitted tail costs, not what the whole log holds.
 */
import type { LogClient } from '../log/log-client.js';
import type { ExtentlogRecord } from '../schemas/extentlog-record.js';
import { SourceError } from './errors.js';
import { RangeSet } from './range-set.js';

export interface CommittedEpoch {
  readonly epoch: number;
  readonly seq: number;
  readonly reference: string;
  readonly committedAtMs: number;
}

export interface DiskPosition {
  readonly partition: number;
  /** The seq the next record of the disk gets. */
  readonly nextSeq: number;
  /** The epoch number the next cycle gets (above every epoch in the log). */
  readonly nextEpoch: number;
  readonly committed: CommittedEpoch | null;
  /** What epochs after the committed one may have written to targets. */
  readonly uncommitted: {
    /** An uncommitted FULL epoch (or too many ranges to track): the next epoch must be FULL. */
    readonly full: boolean;
    readonly ranges: RangeSet;
    readonly epochs: readonly number[];
  };
}

export interface RecordDecoder {
  decode(frame: Buffer): Promise<ExtentlogRecord>;
}

/** Beyond this many distinct uncommitted ranges the next epoch is simply FULL. */
const MAX_TRACKED_RANGES = 1_000_000;
const FIRST_WINDOW_RECORDS = 64;

/** A record without its data: what the tail scan keeps. */
type RecordMetadata = ExtentlogRecord extends infer R
  ? R extends { data: unknown }
    ? Omit<R, 'data'>
    : R
  : never;

interface Metadata {
  readonly offset: number;
  readonly record: RecordMetadata;
}

export function emptyPosition(partition: number): DiskPosition {
  return {
    partition,
    nextSeq: 0,
    nextEpoch: 1,
    committed: null,
    uncommitted: { full: false, ranges: new RangeSet(), epochs: [] },
  };
}

export async function readDiskPosition(options: {
  readonly log: LogClient;
  readonly decoder: RecordDecoder;
  readonly topic: string;
  readonly partition: number;
  readonly diskId: string;
}): Promise<DiskPosition> {
  const { log, decoder, topic, partition, diskId } = options;
  const bounds = (await log.admin.offsets(topic)).find((entry) => entry.partition === partition);
  if (bounds === undefined || bounds.endOffset <= bounds.startOffset)
    return emptyPosition(partition);

  let nextSeq: number | null = null;
  let maxEpoch = 0;
  let committed: CommittedEpoch | null = null;
  let full = false;
  const ranges = new RangeSet();
  const epochs = new Set<number>();
  let high = bounds.endOffset;
  let windowRecords = FIRST_WINDOW_RECORDS;

  while (committed === null && high > bounds.startOffset) {
    const low = Math.max(bounds.startOffset, high - windowRecords);
    const window: Metadata[] = [];
    for await (const message of log.readRange({
      topic,
      partition,
      fromOffset: low,
      toOffset: high,
    })) {
      if (message.value === null || message.key?.toString() !== diskId) continue;
      const record = await decodeAt(decoder, message.value, topic, partition, message.offset);
      window.push({ offset: message.offset, record: withoutData(record) });
    }
    for (let index = window.length - 1; index >= 0; index -= 1) {
      const { record } = window[index]!;
      nextSeq ??= record.seq + 1;
      maxEpoch = Math.max(maxEpoch, record.epoch);
      if (record.type === 'sync-commit') {
        committed = {
          epoch: record.epoch,
          seq: record.seq,
          reference: record.sourceReference,
          committedAtMs: record.committedAtMs,
        };
        break;
      }
      if (record.type === 'sync-begin') {
        epochs.add(record.epoch);
        if (record.mode === 'FULL') full = true;
      } else if (record.type === 'extent' && !full) {
        ranges.add({ offsetBytes: record.offsetBytes, lengthBytes: record.lengthBytes });
        if (ranges.size > MAX_TRACKED_RANGES) full = true;
      }
    }
    high = low;
    windowRecords *= 4;
  }
  if (nextSeq === null) return emptyPosition(partition);
  if (committed === null && bounds.startOffset > 0) {
    // The log no longer holds a commit of this disk: history expired; start over with FULL.
    full = true;
  }
  return {
    partition,
    nextSeq,
    nextEpoch: maxEpoch + 1,
    committed,
    uncommitted: {
      full,
      ranges: full ? new RangeSet() : ranges,
      epochs: [...epochs].sort((a, b) => a - b),
    },
  };
}

function withoutData(record: ExtentlogRecord): RecordMetadata {
  if (record.type !== 'extent') return record;
  const { data: _data, ...rest } = record;
  return rest;
}

async function decodeAt(
  decoder: RecordDecoder,
  frame: Buffer,
  topic: string,
  partition: number,
  offset: number,
): Promise<ExtentlogRecord> {
  try {
    return await decoder.decode(frame);
  } catch (error) {
    throw new SourceError(
      'EXTENTLOG_ERR_SOURCE_LOG_STATE',
      `cannot read the feed's position from ${topic}[${partition}] at offset ${offset}: ${(error as Error).message}`,
      { cause: error, details: { topic, partition, offset } },
    );
  }
}
