/**
 * The order every change set enforces (source.ts): changes() is iterated once, to its end,
 * before commit(); commit() and abort() settle the cycle once, whichever comes first.
 *
 *   open ──changes()──▶ scanning ──end──▶ scanned ──commit()──▶ committed
 *     └──────────────────┴───────────────────┴──────abort()───▶ aborted
 *
 * Also the range check of a cycle's reader, with the error every source reports.
 */
import { SourceError } from './errors.js';
import type { DiskInfo } from './source.js';

export type CycleState = 'open' | 'scanning' | 'scanned' | 'committed' | 'aborted';

export class CycleLifecycle {
  #state: CycleState = 'open';

  constructor(
    private readonly diskId: string,
    private readonly reference: string,
  ) {}

  get state(): CycleState {
    return this.#state;
  }

  /** Wraps the cycle's scan: iterable once, and `scanned` only if it ran to its end. */
  async *scan<T>(changes: () => AsyncIterable<T>): AsyncGenerator<T> {
    if (this.#state !== 'open')
      throw new SourceError(
        'EXTENTLOG_ERR_SOURCE_CYCLE',
        `disk ${this.diskId}: changes() of cycle ${this.reference} can be iterated once (the cycle is ${this.#state})`,
      );
    this.#state = 'scanning';
    yield* changes();
    if (this.#state === 'scanning') this.#state = 'scanned';
  }

  /** Moves to `committed`, or throws if the changes were not read to their end. */
  beginCommit(): void {
    if (this.#state !== 'scanned')
      throw new SourceError(
        'EXTENTLOG_ERR_SOURCE_CYCLE',
        `disk ${this.diskId}: cycle ${this.reference} cannot commit: its changes were not read to the end (the cycle is ${this.#state})`,
      );
    this.#state = 'committed';
  }

  /** Moves to `aborted`; false when the cycle was already settled. */
  beginAbort(): boolean {
    if (this.#state === 'committed' || this.#state === 'aborted') return false;
    this.#state = 'aborted';
    return true;
  }
}

/** The error for a read outside the disk, or null when the range is inside it. */
export function readOutOfRange(
  disk: DiskInfo,
  offsetBytes: number,
  lengthBytes: number,
): SourceError | null {
  if (
    Number.isSafeInteger(offsetBytes) &&
    Number.isSafeInteger(lengthBytes) &&
    offsetBytes >= 0 &&
    lengthBytes >= 0 &&
    offsetBytes + lengthBytes <= disk.sizeBytes
  )
    return null;
  return new SourceError(
    'EXTENTLOG_ERR_SOURCE_OUT_OF_RANGE',
    `disk ${disk.diskId}: read of ${lengthBytes} bytes at offset ${offsetBytes} is outside the disk's ${disk.sizeBytes} bytes`,
    { details: { diskId: disk.diskId, offsetBytes, lengthBytes } },
  );
}
