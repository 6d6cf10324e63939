/**
 * The changed ranges of one epoch of a kernel journal, coalesced: each record overrides
 * what earlier records (in completion order) said about its bytes, and touching ranges of
 * the same kind merge, keeping the earliest issue time, the latest completion time and the
 * highest journal sequence. Writes and discards become WRITE ranges (their content is read
 * from the epoch's snapshot: what a discarded range reads as is the device's choice);
 * write-zeroes become ZERO ranges where they cover whole blocks.
 *
 * Ranges are widened to whole blocks (clamped to the disk), which only reads a little more
 * from the snapshot. Half-open [startBytes, endBytes), kept sorted and disjoint.
 */
import type { JournalRecord } from './journal-device.js';

export interface EpochExtent {
  readonly startBytes: number;
  readonly endBytes: number;
  readonly op: 'WRITE' | 'ZERO';
  readonly issuedNs: bigint;
  readonly completedNs: bigint;
  readonly seq: bigint;
}

export class EpochExtents {
  #extents: EpochExtent[] = [];

  constructor(
    private readonly blockSizeBytes: number,
    private readonly diskSizeBytes: number,
  ) {}

  get size(): number {
    return this.#extents.length;
  }

  /** Adds a WRITE, DISCARD or WRITE_ZEROES record; other types are ignored. */
  add(record: JournalRecord): void {
    if (record.lengthBytes === 0) return;
    const times = {
      issuedNs: record.issuedNs,
      completedNs: record.completedNs,
      seq: record.seq,
    };
    const block = this.blockSizeBytes;
    const start = record.offsetBytes;
    const end = Math.min(this.diskSizeBytes, record.offsetBytes + record.lengthBytes);
    if (record.type === 'WRITE' || record.type === 'DISCARD') {
      this.#put(this.#widen(start, end), 'WRITE', times);
    } else if (record.type === 'WRITE_ZEROES') {
      const innerStart = Math.ceil(start / block) * block;
      const innerEnd = end === this.diskSizeBytes ? end : Math.floor(end / block) * block;
      if (innerStart >= innerEnd) {
        this.#put(this.#widen(start, end), 'WRITE', times);
        return;
      }
      if (start < innerStart) this.#put(this.#widen(start, innerStart), 'WRITE', times);
      this.#put([innerStart, innerEnd], 'ZERO', times);
      if (innerEnd < end) this.#put(this.#widen(innerEnd, end), 'WRITE', times);
    }
  }

  /** The extents, earliest completion first (ties by offset). */
  byCompletion(): EpochExtent[] {
    return [...this.#extents].sort((a, b) =>
      a.completedNs === b.completedNs
        ? a.startBytes - b.startBytes
        : a.completedNs < b.completedNs
          ? -1
          : 1,
    );
  }

  /** The extents in offset order. */
  byOffset(): readonly EpochExtent[] {
    return this.#extents;
  }

  #widen(start: number, end: number): [number, number] {
    const block = this.blockSizeBytes;
    return [
      Math.floor(start / block) * block,
      Math.min(this.diskSizeBytes, Math.ceil(end / block) * block),
    ];
  }

  #put(
    [start, end]: [number, number],
    op: EpochExtent['op'],
    times: Pick<EpochExtent, 'issuedNs' | 'completedNs' | 'seq'>,
  ): void {
    // Invariant: disjoint, sorted, and touching extents differ in kind.
    const list = this.#extents;
    let low = 0;
    let high = list.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (list[middle]!.endBytes < start) low = middle + 1;
      else high = middle;
    }
    let past = low;
    while (past < list.length && list[past]!.startBytes <= end) past += 1;
    let merged: EpochExtent = { startBytes: start, endBytes: end, op, ...times };
    const kept: EpochExtent[] = [];
    for (const old of list.slice(low, past)) {
      if (old.op === op) {
        merged = {
          startBytes: Math.min(merged.startBytes, old.startBytes),
          endBytes: Math.max(merged.endBytes, old.endBytes),
          op,
          issuedNs: old.issuedNs < merged.issuedNs ? old.issuedNs : merged.issuedNs,
          completedNs: old.completedNs > merged.completedNs ? old.completedNs : merged.completedNs,
          seq: old.seq > merged.seq ? old.seq : merged.seq,
        };
      } else if (old.endBytes <= start || old.startBytes >= end) {
        kept.push(old);
      } else {
        // The newer record wins the overlap; what sticks out keeps its kind and times.
        if (old.startBytes < start) kept.push({ ...old, endBytes: start });
        if (old.endBytes > end) kept.push({ ...old, startBytes: end });
      }
    }
    kept.push(merged);
    kept.sort((a, b) => a.startBytes - b.startBytes);
    list.splice(low, past - low, ...kept);
  }
}
