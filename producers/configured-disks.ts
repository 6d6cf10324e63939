/**
 * The disks a source was configured with, by id: a cycle opened for any other disk is an
 * error that names the ones it knows. Also the checks on settings that several sources share.
 */
import { SourceError } from './errors.js';

export class ConfiguredDisks<T> {
  constructor(
    private readonly kind: string,
    private readonly byId: ReadonlyMap<string, T>,
  ) {}

  get(diskId: string): T {
    const config = this.byId.get(diskId);
    if (config === undefined)
      throw new SourceError(
        'EXTENTLOG_ERR_SOURCE_UNKNOWN_DISK',
        `${this.kind} source: no disk ${diskId} is configured (configured: ${[...this.byId.keys()].join(', ')})`,
        { details: { diskId } },
      );
    return config;
  }

  values(): IterableIterator<T> {
    return this.byId.values();
  }
}

/** An integer power of two from `minimum` to `maximum` (a block or chunk size setting). */
export function isPowerOfTwoWithin(value: number, minimum: number, maximum: number): boolean {
  return (
    Number.isSafeInteger(value) &&
    value >= minimum &&
    value <= maximum &&
    (value & (value - 1)) === 0
  );
}
