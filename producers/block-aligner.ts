/**
 * Turns changed ranges of any alignment into extents aligned to the disk's block size —
 * the granularity a source promises (`DiskInfo.blockSizeBytes`). Ranges arrive in
 * ascending order and do not overlap; gaps between them are unchanged. A block is a ZERO
 * block only when ZERO ranges cover all of it; a block a range touches only in part is a
 * WRITE block, read from the source: widening only ever re-sends bytes, it never drops
 * one nor zeroes one that did not change.
 *
 *   ranges:  [WRITE 0..1000)      [ZERO 4096..9000)        [WRITE 9000..9100)
 *   blocks:  |WRITE 0..4096)|ZERO 4096..8192)|WRITE 8192..12288)|
 *
 * Offsets are bytes, ranges half-open; the last block ends at the disk's size.
 */
import type { ChangedExtent, ExtentOp } from './source.js';

interface BlockRun {
  op: ExtentOp;
  /** Half-open [startBlock, endBlock). */
  startBlock: number;
  endBlock: number;
}

export class BlockAligner {
  #run: BlockRun | null = null;
  readonly #ready: BlockRun[] = [];

  constructor(
    private readonly blockSizeBytes: number,
    private readonly diskSizeBytes: number,
    private readonly extra: Pick<ChangedExtent, 'issuedAtNs' | 'completedAtNs' | 'provenance'> = {},
  ) {}

  add(op: ExtentOp, startBytes: number, endBytes: number): void {
    if (endBytes <= startBytes) return;
    if (op === 'ZERO') {
      // Only whole blocks become ZERO (the disk's last block ends at the disk's size).
      const bs = this.blockSizeBytes;
      const zeroStart = Math.ceil(startBytes / bs) * bs;
      const zeroEnd = endBytes >= this.diskSizeBytes ? endBytes : Math.floor(endBytes / bs) * bs;
      if (zeroEnd <= zeroStart) {
        this.#add('WRITE', startBytes, endBytes);
        return;
      }
      this.#add('WRITE', startBytes, zeroStart);
      this.#add('ZERO', zeroStart, zeroEnd);
      this.#add('WRITE', zeroEnd, endBytes);
      return;
    }
    this.#add(op, startBytes, endBytes);
  }

  #add(op: ExtentOp, startBytes: number, endBytes: number): void {
    if (endBytes <= startBytes) return;
    let startBlock = Math.floor(startBytes / this.blockSizeBytes);
    const endBlock = Math.ceil(endBytes / this.blockSizeBytes);
    const run = this.#run;
    if (run !== null && startBlock < run.endBlock) {
      // The first block is the pending run's last one: WRITE wins it.
      if (op === 'WRITE' && run.op !== 'WRITE') {
        run.endBlock -= 1;
        if (run.endBlock > run.startBlock) this.#ready.push(run);
        this.#run = { op: 'WRITE', startBlock, endBlock: startBlock + 1 };
      }
      startBlock += 1;
    }
    if (startBlock >= endBlock) return;
    const pending = this.#run;
    if (pending !== null && pending.op === op && pending.endBlock === startBlock) {
      pending.endBlock = endBlock;
      return;
    }
    if (pending !== null) this.#ready.push(pending);
    this.#run = { op, startBlock, endBlock };
  }

  /** Extents that no later range can change, in order; each is handed out once. */
  take(): ChangedExtent[] {
    return this.#ready.splice(0).map((run) => this.#extent(run));
  }

  /** Everything, once the last range was added. */
  finish(): ChangedExtent[] {
    if (this.#run !== null) this.#ready.push(this.#run);
    this.#run = null;
    return this.take();
  }

  #extent(run: BlockRun): ChangedExtent {
    const offsetBytes = run.startBlock * this.blockSizeBytes;
    return {
      kind: 'extent',
      offsetBytes,
      lengthBytes: Math.min(this.diskSizeBytes, run.endBlock * this.blockSizeBytes) - offsetBytes,
      op: run.op,
      ...this.extra,
    };
  }
}
