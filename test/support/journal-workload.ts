/**
 * The host side of the kernel module's VM tests: decodes what kmod/tools/exl-writer logged
 * in the guest, recomputes every byte it wrote (the writer's data describes itself, see the
 * tool's header), matches each operation to the journal records it caused, and replays the
 * journal over the disk's initial content — up to a snapshot's marker for the snapshot
 * image, to the end for the device's final content.
 */
import { createHash } from 'node:crypto';
import type { JournalRecord } from '../../native/kjournal/journal-record.js';

export const SECTOR_BYTES = 512;
const WRITER_LOG_BYTES = 56;
const KINDS = [undefined, 'WRITE', 'ZEROES', 'DISCARD', 'FLUSH'] as const;
export type WriterOpKind = Exclude<(typeof KINDS)[number], undefined>;

export interface WriterOp {
  readonly thread: number;
  readonly kind: WriterOpKind;
  readonly gen: number;
  readonly offsetBytes: number;
  readonly lengthBytes: number;
  readonly startNs: bigint;
  readonly endNs: bigint;
  readonly result: number;
  readonly dsync: boolean;
}

/** struct wlog of exl-writer.c, in thread order. */
export function decodeWriterLog(buffer: Buffer): WriterOp[] {
  const ops: WriterOp[] = [];
  for (let at = 0; at + WRITER_LOG_BYTES <= buffer.length; at += WRITER_LOG_BYTES) {
    const kind = KINDS[buffer.readUInt32LE(at + 4)];
    if (kind === undefined) throw new Error(`writer log: unknown kind at byte ${at}`);
    ops.push({
      thread: buffer.readUInt32LE(at),
      kind,
      gen: Number(buffer.readBigUInt64LE(at + 8)),
      offsetBytes: Number(buffer.readBigUInt64LE(at + 16)),
      lengthBytes: Number(buffer.readBigUInt64LE(at + 24)),
      startNs: buffer.readBigUInt64LE(at + 32),
      endNs: buffer.readBigUInt64LE(at + 40),
      result: buffer.readInt32LE(at + 48),
      dsync: (buffer.readUInt32LE(at + 52) & 1) !== 0,
    });
  }
  return ops;
}

/** Writes what exl-writer's thread `thread` wrote in operation `gen` over [offsetBytes, +length). */
export function writerData(
  target: Buffer,
  targetOffset: number,
  offsetBytes: number,
  lengthBytes: number,
  thread: number,
  gen: number,
): void {
  for (let done = 0; done < lengthBytes; done += SECTOR_BYTES) {
    const at = targetOffset + done;
    const sector = (offsetBytes + done) / SECTOR_BYTES;
    target.write('EXLW', at, 'latin1');
    target.writeUInt32LE(thread, at + 4);
    target.writeBigUInt64LE(BigInt(gen), at + 8);
    target.writeBigUInt64LE(BigInt(sector), at + 16);
    const base = gen * 131 + thread * 31 + sector;
    for (let i = 24; i < SECTOR_BYTES; i += 1) target[at + i] = (base + i) & 0xff;
  }
}

/** A disk's content before the guest starts: every sector says which one it is. */
export function initialImage(sizeBytes: number): Buffer {
  const image = Buffer.alloc(sizeBytes);
  for (let at = 0; at < sizeBytes; at += SECTOR_BYTES) {
    const sector = at / SECTOR_BYTES;
    image.write('EXLI', at, 'latin1');
    image.writeBigUInt64LE(BigInt(sector), at + 4);
    for (let i = 12; i < SECTOR_BYTES; i += 1) image[at + i] = (sector * 7 + i * 13) & 0xff;
  }
  return image;
}

export interface WorkloadLayout {
  readonly threads: number;
  readonly regionBytes: number;
  readonly baseBytes: number;
}

export interface JournalMatch {
  /** Everything that contradicts "each operation has its records, in order, in time". */
  readonly problems: string[];
  /** The operation behind each data record, by pos. */
  readonly opOfRecord: ReadonlyMap<bigint, WriterOp>;
  readonly dataRecords: number;
  readonly flushRecords: number;
  readonly fuaRecords: number;
}

const RECORD_TYPES_OF: Record<WriterOpKind, readonly string[]> = {
  WRITE: ['WRITE'],
  // BLKZEROOUT falls back to writing zero pages where WRITE ZEROES is missing.
  ZEROES: ['WRITE_ZEROES', 'WRITE'],
  DISCARD: ['DISCARD'],
  FLUSH: ['FLUSH'],
};

const RECORD_TYPES_OF_BIO = new Set(['WRITE', 'DISCARD', 'WRITE_ZEROES', 'FLUSH']);

function describeOp(op: WriterOp): string {
  return `thread ${op.thread} op ${op.gen} (${op.kind} ${op.offsetBytes}+${op.lengthBytes})`;
}

function describeRecord(record: JournalRecord): string {
  return `record pos ${record.pos} (${record.type} ${record.offsetBytes}+${record.lengthBytes})`;
}

/**
 * Matches the writer's operations to the journal. A data operation is covered by one or
 * more consecutive records of its thread's region that tile its range; each record lies
 * inside the operation's time window. Flushes match any FLUSH record inside their window
 * (the kernel may add flushes of its own, e.g. after an O_DSYNC write).
 */
export function matchJournal(
  ops: readonly WriterOp[],
  records: readonly JournalRecord[],
  layout: WorkloadLayout,
): JournalMatch {
  const problems: string[] = [];
  const opOfRecord = new Map<bigint, WriterOp>();
  records.forEach((record, index) => {
    if (record.pos !== BigInt(index)) problems.push(`${describeRecord(record)} at index ${index}`);
    if (record.issuedNs > record.completedNs)
      problems.push(`${describeRecord(record)} completed before it was issued`);
    const previous = records[index - 1];
    if (previous !== undefined && previous.completedNs > record.completedNs)
      problems.push(`${describeRecord(record)} completed before the record ahead of it`);
    if (record.type === 'OVERFLOW') problems.push(`${describeRecord(record)}: ${record.arg} lost`);
    if (record.status !== 0) problems.push(`${describeRecord(record)} failed (${record.status})`);
  });
  const io = records.filter((record) => record.seq !== 0n);
  if (new Set(io.map((record) => record.seq)).size !== io.length)
    problems.push('sequence numbers repeat');
  const bios = records.filter((record) => RECORD_TYPES_OF_BIO.has(record.type));
  if (io.length !== bios.length) problems.push('an I/O record has no sequence number');

  const threadOf = (record: JournalRecord) =>
    Math.floor((record.offsetBytes - layout.baseBytes) / layout.regionBytes);
  const pending = new Map<number, WriterOp[]>();
  for (const op of ops) {
    if (op.kind === 'FLUSH') continue;
    pending.set(op.thread, [...(pending.get(op.thread) ?? []), op]);
  }
  const covered = new Map<number, number>();
  let dataRecords = 0;
  for (const record of records) {
    if (!['WRITE', 'WRITE_ZEROES', 'DISCARD'].includes(record.type)) continue;
    dataRecords += 1;
    const thread = threadOf(record);
    const queue = pending.get(thread);
    if (queue === undefined || queue.length === 0) {
      problems.push(`${describeRecord(record)} matches no operation`);
      continue;
    }
    let op = queue[0]!;
    let done = covered.get(thread) ?? 0;
    const continues = (candidate: WriterOp, at: number) =>
      RECORD_TYPES_OF[candidate.kind].includes(record.type) &&
      record.offsetBytes === candidate.offsetBytes + at &&
      record.offsetBytes + record.lengthBytes <= candidate.offsetBytes + candidate.lengthBytes;
    if (!continues(op, done)) {
      // Resynchronise on a later operation that this record starts: the ones skipped
      // have no record.
      const later = done === 0 ? queue.findIndex((candidate) => continues(candidate, 0)) : -1;
      if (later <= 0) {
        problems.push(`${describeRecord(record)} does not continue ${describeOp(op)}`);
        continue;
      }
      for (const skipped of queue.splice(0, later))
        problems.push(`${describeOp(skipped)} has no journal record`);
      op = queue[0]!;
      done = 0;
    }
    opOfRecord.set(record.pos, op);
    if (record.issuedNs < op.startNs || record.completedNs > op.endNs)
      problems.push(`${describeRecord(record)} lies outside the time of ${describeOp(op)}`);
    if (op.dsync && !record.fua) problems.push(`${describeRecord(record)} lost the FUA flag`);
    done += record.lengthBytes;
    if (done === op.lengthBytes) {
      queue.shift();
      done = 0;
    }
    covered.set(thread, done);
  }
  for (const queue of pending.values())
    for (const op of queue) problems.push(`${describeOp(op)} has no journal record`);

  const flushes = records.filter((record) => record.type === 'FLUSH');
  const flushOps = ops.filter((candidate) => candidate.kind === 'FLUSH');
  for (const op of unmatchedFlushes(flushOps, flushes))
    problems.push(`${describeOp(op)} has no FLUSH record`);
  return {
    problems,
    opOfRecord,
    dataRecords,
    flushRecords: flushes.length,
    fuaRecords: records.filter((record) => record.fua).length,
  };
}

/**
 * The flush operations that cannot each have a FLUSH record of their own inside their time
 * window: a maximum bipartite matching (Kuhn's augmenting paths), since the windows of
 * concurrent threads overlap and a greedy choice can take the record another one needed.
 */
function unmatchedFlushes(ops: readonly WriterOp[], flushes: readonly JournalRecord[]): WriterOp[] {
  const fits = ops.map((op) =>
    flushes.flatMap((record, index) =>
      record.issuedNs >= op.startNs && record.completedNs <= op.endNs ? [index] : [],
    ),
  );
  const owner = new Map<number, number>(); // record index → op index
  const claim = (op: number, seen: Set<number>): boolean => {
    for (const record of fits[op] ?? []) {
      if (seen.has(record)) continue;
      seen.add(record);
      const holder = owner.get(record);
      if (holder === undefined || claim(holder, seen)) {
        owner.set(record, op);
        return true;
      }
    }
    return false;
  };
  return ops.filter((_, index) => !claim(index, new Set()));
}

export interface Replay {
  readonly image: Buffer;
  /** Sectors whose content the replay cannot know (a discard's, or an unmatched record's). */
  readonly unknownSectors: Set<number>;
}

/** Applies the data records with pos < `untilPos` (all when null) over `initial`, in pos order. */
export function replayJournal(
  initial: Buffer,
  records: readonly JournalRecord[],
  opOfRecord: ReadonlyMap<bigint, WriterOp>,
  untilPos: bigint | null = null,
): Replay {
  const image = Buffer.from(initial);
  const unknownSectors = new Set<number>();
  for (const record of records) {
    if (untilPos !== null && record.pos >= untilPos) break;
    if (!['WRITE', 'WRITE_ZEROES', 'DISCARD'].includes(record.type)) continue;
    const first = record.offsetBytes / SECTOR_BYTES;
    const count = record.lengthBytes / SECTOR_BYTES;
    const op = opOfRecord.get(record.pos);
    const mark = (known: boolean) => {
      for (let sector = first; sector < first + count; sector += 1) {
        if (known) unknownSectors.delete(sector);
        else unknownSectors.add(sector);
      }
    };
    if (op === undefined || record.type === 'DISCARD') {
      mark(false);
    } else if (op.kind === 'ZEROES') {
      image.fill(0, record.offsetBytes, record.offsetBytes + record.lengthBytes);
      mark(true);
    } else {
      writerData(
        image,
        record.offsetBytes,
        record.offsetBytes,
        record.lengthBytes,
        op.thread,
        op.gen,
      );
      mark(true);
    }
  }
  return { image, unknownSectors };
}

/** Sectors where `actual` differs from the replay, leaving out the ones it cannot know. */
export function differingSectors(actual: Buffer, replay: Replay, limit = 20): number[] {
  const found: number[] = [];
  for (let at = 0; at < replay.image.length && found.length < limit; at += SECTOR_BYTES) {
    const sector = at / SECTOR_BYTES;
    if (replay.unknownSectors.has(sector)) continue;
    if (actual.compare(replay.image, at, at + SECTOR_BYTES, at, at + SECTOR_BYTES) !== 0)
      found.push(sector);
  }
  return found;
}

export function sha256(buffer: Buffer): string {
  return createHash('sha256').update(buffer).digest('hex');
}
