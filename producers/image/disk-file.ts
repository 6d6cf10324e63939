/**
 * A disk the image source reads: a regular file (raw image) or a block device. Regular files
 * are sized with fstat and mapped with lseek(2) SEEK_DATA/SEEK_HOLE; block devices are sized
 * with BLKGETSIZE64 and read as all data. Reads are positional (pread), so the same fd
 * serves the cycle's scan and the feed's reads at once.
 */
import type { FileHandle } from 'node:fs/promises';
import { open } from 'node:fs/promises';
import { describeError } from '../../errors/extentlog-error.js';
import { dataRanges, type ByteRange } from '../../native/fileio/data-ranges.js';
import * as fileio from '../../native/fileio/index.js';
import { SourceError } from '../errors.js';

export type { ByteRange };

export class DiskFile {
  private constructor(
    readonly diskId: string,
    readonly path: string,
    private readonly handle: FileHandle,
    readonly isBlockDevice: boolean,
    /** The size when opened: the cycle's size. */
    readonly sizeBytes: number,
    private readonly detectHoles: boolean,
  ) {}

  static async open(diskId: string, path: string, detectHoles: boolean): Promise<DiskFile> {
    let handle: FileHandle;
    try {
      handle = await open(path, 'r');
    } catch (error) {
      throw new SourceError(
        'EXTENTLOG_ERR_SOURCE_OPEN',
        `disk ${diskId}: cannot open ${path}: ${describeError(error)}`,
        { cause: error, details: { diskId, path } },
      );
    }
    try {
      const stats = await handle.stat();
      if (!stats.isFile() && !stats.isBlockDevice())
        throw new SourceError(
          'EXTENTLOG_ERR_SOURCE_OPEN',
          `disk ${diskId}: ${path} is neither a regular file nor a block device`,
          { retriable: false, details: { diskId, path } },
        );
      const isBlockDevice = stats.isBlockDevice();
      const sizeBytes = isBlockDevice
        ? await fileio.blockDeviceSizeBytes(handle.fd, { path })
        : stats.size;
      // Block devices have no holes to seek; the generic lseek would call it all data anyway.
      return new DiskFile(
        diskId,
        path,
        handle,
        isBlockDevice,
        sizeBytes,
        detectHoles && !isBlockDevice,
      );
    } catch (error) {
      await handle.close();
      if (error instanceof SourceError) throw error;
      throw new SourceError(
        'EXTENTLOG_ERR_SOURCE_OPEN',
        `disk ${diskId}: cannot size ${path}: ${describeError(error)}`,
        { cause: error, details: { diskId, path } },
      );
    }
  }

  /** The size now (fstat or BLKGETSIZE64), to notice a disk resized mid-cycle. */
  async currentSizeBytes(): Promise<number> {
    try {
      return this.isBlockDevice
        ? await fileio.blockDeviceSizeBytes(this.handle.fd, { path: this.path })
        : (await this.handle.stat()).size;
    } catch (error) {
      throw this.readError(error, 0);
    }
  }

  /** Fails if the disk's size is no longer the size it had when the cycle opened. */
  async checkSize(atOffsetBytes: number): Promise<void> {
    const nowBytes = await this.currentSizeBytes();
    if (nowBytes !== this.sizeBytes)
      throw new SourceError(
        'EXTENTLOG_ERR_SOURCE_SIZE_CHANGED',
        `disk ${this.diskId}: ${this.path} changed size during the cycle (at offset ${atOffsetBytes}): ` +
          `it was ${this.sizeBytes} bytes when the cycle opened, it is ${nowBytes} bytes now; ` +
          'replicate from a snapshot for a consistent point in time, the next cycle re-baselines',
        {
          details: {
            diskId: this.diskId,
            path: this.path,
            offsetBytes: atOffsetBytes,
            openedSizeBytes: this.sizeBytes,
            sizeBytes: nowBytes,
          },
        },
      );
  }

  /** Reads exactly `into.length` bytes at `offsetBytes`; a short read means the disk shrank. */
  async readExact(offsetBytes: number, into: Buffer): Promise<Buffer> {
    let doneBytes = 0;
    while (doneBytes < into.length) {
      let bytesRead: number;
      try {
        ({ bytesRead } = await this.handle.read(
          into,
          doneBytes,
          into.length - doneBytes,
          offsetBytes + doneBytes,
        ));
      } catch (error) {
        throw this.readError(error, offsetBytes + doneBytes);
      }
      if (bytesRead === 0)
        throw new SourceError(
          'EXTENTLOG_ERR_SOURCE_TRUNCATED',
          `disk ${this.diskId}: ${this.path} ended at offset ${offsetBytes + doneBytes} while reading ` +
            `${into.length} bytes at offset ${offsetBytes}, but the cycle opened it at ${this.sizeBytes} bytes: ` +
            'it was truncated or shrunk mid-cycle; replicate from a snapshot',
          {
            details: {
              diskId: this.diskId,
              path: this.path,
              offsetBytes: offsetBytes + doneBytes,
              sizeBytes: this.sizeBytes,
            },
          },
        );
      doneBytes += bytesRead;
    }
    return into;
  }

  /**
   * The data ranges within [startBytes, endBytes), in order; the rest reads as zeros.
   * Without hole detection everything is data.
   */
  async dataRanges(startBytes: number, endBytes: number): Promise<ByteRange[]> {
    if (!this.detectHoles) return [{ startBytes, endBytes }];
    try {
      return await dataRanges(this.handle.fd, startBytes, endBytes, { path: this.path });
    } catch (error) {
      throw this.readError(error, startBytes);
    }
  }

  private readError(error: unknown, offsetBytes: number): SourceError {
    return new SourceError(
      'EXTENTLOG_ERR_SOURCE_READ',
      `disk ${this.diskId}: reading ${this.path} at offset ${offsetBytes} failed: ${describeError(error)}`,
      { cause: error, details: { diskId: this.diskId, path: this.path, offsetBytes } },
    );
  }

  close(): Promise<void> {
    return this.handle.close();
  }
}
