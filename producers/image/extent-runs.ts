/**
 * Coalesces changed ranges, offered in ascending order, into extents: a range that starts
 * where the pending run ends, with the same op, extends it; anything else ends it.
 */
import type { ExtentOp } from '../source.js';

/** Half-open [startBytes, endBytes). */
export interface Run {
  readonly op: ExtentOp;
  readonly startBytes: number;
  endBytes: number;
}

export class ExtentRuns {
  private pending: Run | null = null;
  private readonly ready: Run[] = [];

  add(op: ExtentOp, startBytes: number, endBytes: number): void {
    if (endBytes <= startBytes) return;
    if (this.pending?.op === op && this.pending.endBytes === startBytes) {
      this.pending.endBytes = endBytes;
      return;
    }
    this.end();
    this.pending = { op, startBytes, endBytes };
  }

  /** Ends the pending run (an unchanged block lies after it). */
  end(): void {
    if (this.pending !== null) this.ready.push(this.pending);
    this.pending = null;
  }

  /** Ends the pending run if it is a WRITE: WRITE runs never span a read window. */
  endWrite(): void {
    if (this.pending?.op === 'WRITE') this.end();
  }

  /** The runs completed so far, in order; they are handed out once. */
  take(): Run[] {
    return this.ready.splice(0);
  }
}
