/**
 * A set of disjoint byte ranges, kept sorted and coalesced. The feed uses it to remember
 * what an aborted epoch may have written to targets, so that the next epoch re-sends those
 * ranges too. Ranges are half-open [offsetBytes, offsetBytes + lengthBytes).
 */
import type { ByteRange } from './record-pieces.js';

export class RangeSet {
  // Parallel sorted arrays of starts and ends; disjoint and non-adjacent.
  #starts: number[] = [];
  #ends: number[] = [];

  get size(): number {
    return this.#starts.length;
  }

  get totalBytes(): number {
    let total = 0;
    for (let index = 0; index < this.#starts.length; index += 1)
      total += this.#ends[index]! - this.#starts[index]!;
    return total;
  }

  add(range: ByteRange): void {
    if (range.lengthBytes <= 0) return;
    let start = range.offsetBytes;
    let end = range.offsetBytes + range.lengthBytes;
    // First range whose end reaches our start (touching ranges merge).
    const first = this.#lowerBoundEnd(start);
    let last = first;
    while (last < this.#starts.length && this.#starts[last]! <= end) {
      start = Math.min(start, this.#starts[last]!);
      end = Math.max(end, this.#ends[last]!);
      last += 1;
    }
    this.#starts.splice(first, last - first, start);
    this.#ends.splice(first, last - first, end);
  }

  /** The ranges in order. */
  *ranges(): Generator<ByteRange> {
    for (let index = 0; index < this.#starts.length; index += 1) {
      yield {
        offsetBytes: this.#starts[index]!,
        lengthBytes: this.#ends[index]! - this.#starts[index]!,
      };
    }
  }

  /** The parts of this set not in `other`, in order. */
  *difference(other: RangeSet): Generator<ByteRange> {
    let probe = 0;
    for (let index = 0; index < this.#starts.length; index += 1) {
      let start = this.#starts[index]!;
      const end = this.#ends[index]!;
      while (probe < other.#starts.length && other.#ends[probe]! <= start) probe += 1;
      let cursor = probe;
      while (start < end && cursor < other.#starts.length && other.#starts[cursor]! < end) {
        if (other.#starts[cursor]! > start)
          yield { offsetBytes: start, lengthBytes: other.#starts[cursor]! - start };
        start = Math.max(start, other.#ends[cursor]!);
        cursor += 1;
      }
      if (start < end) yield { offsetBytes: start, lengthBytes: end - start };
    }
  }

  /** Index of the first range with end >= offset. */
  #lowerBoundEnd(offset: number): number {
    let low = 0;
    let high = this.#ends.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (this.#ends[middle]! < offset) low = middle + 1;
      else high = middle;
    }
    return low;
  }
}
