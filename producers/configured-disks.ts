/**
 * The disks a source was configured with, by id: a cycle opened for any other disk is an
 * error that names the ones it knows.
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
}
