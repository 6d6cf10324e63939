/**
 * One disk of the file target, over an fd opened O_RDWR on an image file or a block device.
 * WRITE extents are pwrite(2)n — adjacent small ones gathered into one pwritev(2) — and
 * ZERO/DISCARD go to the medium's own operations (`MediumOps`: punch hole, BLKZEROOUT,
 * BLKDISCARD). `flush()` is fdatasync(2). Every operation is idempotent, so records
 * re-applied after a crash are harmless.
 *
 * Gathered writes keep a reference to each extent's `data` until they are written: at the
 * next extent that does not continue them, at `flush()` or at `close()`.
 */
import type { FileHandle } from 'node:fs/promises';
import type { Logger } from 'pino';
import { describeError } from '../../errors/extentlog-error.js';
import { TargetError } from '../errors.js';
import type {
  ApplyExtent,
  EpochBegin,
  EpochCommit,
  RestorePointLocation,
  TargetDisk,
} from '../target.js';

/** What differs between an image file and a block device. */
export interface MediumOps {
  /** Makes the range read as zeros. */
  zero(offsetBytes: number, lengthBytes: number): Promise<void>;
  /** Unmaps the range where the medium can (a hint); otherwise zeroes it. */
  discard(offsetBytes: number, lengthBytes: number): Promise<void>;
  /** Adapts the medium to an epoch's disk size and returns the usable size. */
  resize(begin: EpochBegin, currentSizeBytes: number): Promise<number>;
}

/** Writes below this size are gathered; larger ones go out on their own. */
const GATHER_BELOW_BYTES = 256 * 1024;
const GATHER_MAX_BYTES = 4 * 1024 * 1024;
/** Stays under IOV_MAX (1024) with room to spare. */
const GATHER_MAX_BUFFERS = 256;

interface Gathered {
  readonly startBytes: number;
  endBytes: number;
  readonly buffers: Buffer[];
}

export class FileTargetDisk implements TargetDisk {
  private gathered: Gathered | null = null;
  private closed = false;

  constructor(
    private readonly handle: FileHandle,
    readonly path: string,
    readonly diskId: string,
    private sizeBytes: number,
    private readonly medium: MediumOps,
    private readonly logger: Logger,
  ) {}

  async beginEpoch(begin: EpochBegin): Promise<void> {
    this.checkOpen();
    await this.drain();
    const sizeBytes = await this.medium.resize(begin, this.sizeBytes);
    if (sizeBytes !== this.sizeBytes)
      this.logger.info(
        { path: this.path, diskId: this.diskId, fromBytes: this.sizeBytes, toBytes: sizeBytes },
        'file target: resized for the epoch',
      );
    this.sizeBytes = sizeBytes;
  }

  async apply(extent: ApplyExtent): Promise<void> {
    this.checkOpen();
    const { offsetBytes, lengthBytes } = extent;
    if (
      !Number.isSafeInteger(offsetBytes) ||
      !Number.isSafeInteger(lengthBytes) ||
      offsetBytes < 0 ||
      lengthBytes < 0 ||
      offsetBytes + lengthBytes > this.sizeBytes
    )
      throw this.badExtent(
        extent,
        `lies outside the target's ${this.sizeBytes} bytes (range [${offsetBytes}, ${offsetBytes + lengthBytes}))`,
      );
    if (lengthBytes === 0) return;
    if (extent.op === 'WRITE') {
      if (extent.data === null || extent.data.length !== lengthBytes)
        throw this.badExtent(
          extent,
          `carries ${extent.data?.length ?? 'no'} data bytes for a length of ${lengthBytes}`,
        );
      return this.write(offsetBytes, extent.data);
    }
    await this.drain();
    await this.io(offsetBytes, () =>
      extent.op === 'ZERO'
        ? this.medium.zero(offsetBytes, lengthBytes)
        : this.medium.discard(offsetBytes, lengthBytes),
    );
  }

  async flush(): Promise<void> {
    this.checkOpen();
    await this.drain();
    await this.io(0, () => this.handle.datasync());
  }

  async commitEpoch(_commit: EpochCommit): Promise<RestorePointLocation> {
    this.checkOpen();
    return { location: this.path };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    try {
      await this.drain();
    } finally {
      this.closed = true;
      await this.handle.close();
    }
  }

  private async write(offsetBytes: number, data: Buffer): Promise<void> {
    const gathered = this.gathered;
    if (
      gathered !== null &&
      gathered.endBytes === offsetBytes &&
      data.length < GATHER_BELOW_BYTES &&
      gathered.endBytes - gathered.startBytes + data.length <= GATHER_MAX_BYTES &&
      gathered.buffers.length < GATHER_MAX_BUFFERS
    ) {
      gathered.buffers.push(data);
      gathered.endBytes += data.length;
      return;
    }
    await this.drain();
    if (data.length < GATHER_BELOW_BYTES)
      this.gathered = {
        startBytes: offsetBytes,
        endBytes: offsetBytes + data.length,
        buffers: [data],
      };
    else await this.writeAll(offsetBytes, [data]);
  }

  /** Writes what was gathered. */
  private async drain(): Promise<void> {
    const gathered = this.gathered;
    if (gathered === null) return;
    this.gathered = null;
    await this.writeAll(gathered.startBytes, gathered.buffers);
  }

  private async writeAll(offsetBytes: number, buffers: Buffer[]): Promise<void> {
    await this.io(offsetBytes, async () => {
      let position = offsetBytes;
      let pending = buffers;
      while (pending.length > 0) {
        const { bytesWritten } = await this.handle.writev(pending, position);
        position += bytesWritten;
        pending = skipBytes(pending, bytesWritten);
      }
    });
  }

  private async io<T>(offsetBytes: number, operation: () => Promise<T>): Promise<T> {
    try {
      return await operation();
    } catch (error) {
      if (error instanceof TargetError) throw error;
      throw new TargetError(
        'EXTENTLOG_ERR_TARGET_WRITE',
        `disk ${this.diskId}: writing ${this.path} at offset ${offsetBytes} failed: ${describeError(error)}`,
        { cause: error, details: { diskId: this.diskId, path: this.path, offsetBytes } },
      );
    }
  }

  private badExtent(extent: ApplyExtent, problem: string): TargetError {
    return new TargetError(
      'EXTENTLOG_ERR_TARGET_BAD_EXTENT',
      `disk ${this.diskId}: ${extent.op} extent at offset ${extent.offsetBytes} of ${extent.lengthBytes} bytes ${problem} (${this.path})`,
      {
        details: {
          diskId: this.diskId,
          path: this.path,
          offsetBytes: extent.offsetBytes,
          lengthBytes: extent.lengthBytes,
        },
      },
    );
  }

  private checkOpen(): void {
    if (this.closed)
      throw new TargetError(
        'EXTENTLOG_ERR_TARGET_CLOSED',
        `disk ${this.diskId}: ${this.path} was used after close()`,
      );
  }
}

/** The buffers left after the first `bytes` were written. */
function skipBytes(buffers: Buffer[], bytes: number): Buffer[] {
  let left = bytes;
  let index = 0;
  while (index < buffers.length && left >= (buffers[index]?.length ?? 0)) {
    left -= buffers[index]?.length ?? 0;
    index++;
  }
  const rest = buffers.slice(index);
  const first = rest[0];
  if (first !== undefined && left > 0) rest[0] = first.subarray(left);
  return rest;
}
