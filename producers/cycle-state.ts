/**
 * The life of one change set, shared by the sources: its changes are iterated once, it
 * commits only after they were read to the end, and it settles (commits or aborts) once.
 *
 *   open ──changes()──▶ scanning ──end──▶ scanned ──commit()──▶ committed
 *     └──────────────── abort() from any unsettled state ──────▶ aborted
 */
import { SourceError } from './errors.js';
import type { DiskInfo } from './source.js';

export type CycleStateName = 'open' | 'scanning' | 'scanned' | 'committed' | 'aborted';

export class CycleState {
  state: CycleStateName = 'open';

  constructor(
    private readonly diskId: string,
    private readonly reference: string,
  ) {}

  /** Wraps the scan of `changes()`: a second iteration is refused. */
  async *changes<T>(scan: () => AsyncGenerator<T>): AsyncGenerator<T> {
    if (this.state !== 'open')
      throw new SourceError(
        'EXTENTLOG_ERR_SOURCE_CYCLE',
        `disk ${this.diskId}: changes() of cycle ${this.reference} can be iterated once (the cycle is ${this.state})`,
      );
    this.state = 'scanning';
    yield* scan();
    if (this.state === 'scanning') this.state = 'scanned';
  }

  /** Marks the cycle committed; throws unless its changes were read to the end. */
  commit(): void {
    if (this.state !== 'scanned')
      throw new SourceError(
        'EXTENTLOG_ERR_SOURCE_CYCLE',
        `disk ${this.diskId}: cycle ${this.reference} cannot commit: its changes were not read to the end (the cycle is ${this.state})`,
      );
    this.state = 'committed';
  }

  /** Marks the cycle aborted; false when it had settled already. */
  abort(): boolean {
    if (this.state === 'committed' || this.state === 'aborted') return false;
    this.state = 'aborted';
    return true;
  }
}

/** Throws EXTENTLOG_ERR_SOURCE_OUT_OF_RANGE unless the range lies within the disk. */
export function checkReadRange(disk: DiskInfo, offsetBytes: number, lengthBytes: number): void {
  if (
    !Number.isSafeInteger(offsetBytes) ||
    !Number.isSafeInteger(lengthBytes) ||
    offsetBytes < 0 ||
    lengthBytes < 0 ||
    offsetBytes + lengthBytes > disk.sizeBytes
  )
    throw new SourceError(
      'EXTENTLOG_ERR_SOURCE_OUT_OF_RANGE',
      `disk ${disk.diskId}: read of ${lengthBytes} bytes at offset ${offsetBytes} is outside the disk's ${disk.sizeBytes} bytes`,
      { details: { diskId: disk.diskId, offsetBytes, lengthBytes } },
    );
}
