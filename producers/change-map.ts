/**
 * A coarse picture of where one cycle changed a disk, for the status page: the disk is cut
 * into `CHANGE_MAP_BUCKETS` equal buckets and each counts the bytes the cycle published in
 * it (WRITE, ZERO and DISCARD alike). Counting is O(buckets touched) per extent, so a map
 * costs nothing next to reading the data.
 *
 *   disk  [0 ─────────────────────────────────────────────── sizeBytes)
 *   map   │ b0 │ b1 │ b2 │ … │ b255 │     bucketBytes = ceil(sizeBytes / 256)
 *
 * The last bucket may be shorter than `bucketBytes`.
 */

export const CHANGE_MAP_BUCKETS = 256;

export interface ChangeMapSnapshot {
  /** Bytes of the disk each bucket covers (the last one may cover fewer). */
  readonly bucketBytes: number;
  /** Bytes changed per bucket; `CHANGE_MAP_BUCKETS` entries (fewer for disks of fewer bytes). */
  readonly changedBytes: readonly number[];
}

export class ChangeMap {
  readonly bucketBytes: number;
  readonly #changed: number[];

  constructor(diskSizeBytes: number, buckets = CHANGE_MAP_BUCKETS) {
    this.bucketBytes = Math.max(1, Math.ceil(diskSizeBytes / buckets));
    this.#changed = new Array<number>(
      Math.min(buckets, Math.max(1, Math.ceil(diskSizeBytes / this.bucketBytes))),
    ).fill(0);
  }

  /** Counts the half-open range [offsetBytes, offsetBytes + lengthBytes) in its buckets. */
  add(offsetBytes: number, lengthBytes: number): void {
    const last = this.#changed.length - 1;
    let start = offsetBytes;
    const end = offsetBytes + lengthBytes;
    while (start < end) {
      const bucket = Math.min(last, Math.floor(start / this.bucketBytes));
      const bucketEnd = bucket === last ? end : Math.min(end, (bucket + 1) * this.bucketBytes);
      this.#changed[bucket]! += bucketEnd - start;
      start = bucketEnd;
    }
  }

  snapshot(): ChangeMapSnapshot {
    return { bucketBytes: this.bucketBytes, changedBytes: [...this.#changed] };
  }
}
