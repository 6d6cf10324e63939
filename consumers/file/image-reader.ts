/**
 * Reads a raw image file or a block device as a disk (`RestorePointReader`): positional
 * reads (pread(2)) and, for image files when the fileio addon is built, the data ranges from
 * lseek(2) SEEK_DATA/SEEK_HOLE so that holes need not be read. Serves the file target's
 * restore points and, in the commands, any local image that has to be compared or copied.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { describeError } from '../../errors/extentlog-error.js';
import { dataRanges } from '../../native/fileio/data-ranges.js';
import * as fileio from '../../native/fileio/index.js';
import { TargetError } from '../errors.js';
import { readRangeProblem } from '../read-range.js';
import type { DiskRange, RestorePointReader } from '../target.js';

/** How much of the file one SEEK_DATA scan covers: bounds the ranges held at once. */
const SCAN_WINDOW_BYTES = 256 * 1024 * 1024;

export interface ImageReaderOptions {
  readonly path: string;
  /** For messages: the disk this image holds. */
  readonly diskId: string;
  /** Read only the first `sizeBytes` (the disk's size); default: the whole file or device. */
  readonly sizeBytes?: number;
}

export async function openImageReader(options: ImageReaderOptions): Promise<RestorePointReader> {
  const { path, diskId } = options;
  let handle: FileHandle;
  try {
    handle = await open(path, 'r');
  } catch (error) {
    throw new TargetError(
      'EXTENTLOG_ERR_TARGET_OPEN',
      `disk ${diskId}: cannot open ${path} for reading: ${describeError(error)}`,
      { cause: error, details: { diskId, path } },
    );
  }
  try {
    const stats = await handle.stat();
    if (!stats.isFile() && !stats.isBlockDevice())
      throw new TargetError(
        'EXTENTLOG_ERR_TARGET_OPEN',
        `disk ${diskId}: ${path} is neither a regular file nor a block device`,
        { retriable: false, details: { diskId, path } },
      );
    if (stats.isBlockDevice()) fileio.assertAvailable(`reading block device ${path}`);
    const availableBytes = stats.isBlockDevice()
      ? await fileio.blockDeviceSizeBytes(handle.fd, { path })
      : stats.size;
    const sizeBytes = options.sizeBytes ?? availableBytes;
    if (sizeBytes > availableBytes)
      throw new TargetError(
        'EXTENTLOG_ERR_TARGET_POINT_UNAVAILABLE',
        `disk ${diskId}: ${path} holds ${availableBytes} bytes, but the disk has ${sizeBytes}: the image was truncated or is not this disk's`,
        { details: { diskId, path, sizeBytes, availableBytes } },
      );
    const sparse = stats.isFile() && fileio.isAvailable();
    return imageReader(handle, path, diskId, sizeBytes, sparse);
  } catch (error) {
    await handle.close();
    if (error instanceof TargetError) throw error;
    throw new TargetError(
      'EXTENTLOG_ERR_TARGET_OPEN',
      `disk ${diskId}: cannot size ${path}: ${describeError(error)}`,
      { cause: error, details: { diskId, path } },
    );
  }
}

function imageReader(
  handle: FileHandle,
  path: string,
  diskId: string,
  sizeBytes: number,
  sparse: boolean,
): RestorePointReader {
  const readError = (offsetBytes: number, problem: string, cause?: unknown) =>
    new TargetError(
      'EXTENTLOG_ERR_TARGET_READ',
      `disk ${diskId}: reading ${path} at offset ${offsetBytes} failed: ${problem}`,
      { ...(cause === undefined ? {} : { cause }), details: { diskId, path, offsetBytes } },
    );

  async function read(offsetBytes: number, lengthBytes: number): Promise<Buffer> {
    const problem = readRangeProblem(offsetBytes, lengthBytes, sizeBytes);
    if (problem !== null) throw readError(offsetBytes, problem);
    const buffer = Buffer.allocUnsafe(lengthBytes);
    let doneBytes = 0;
    while (doneBytes < lengthBytes) {
      let bytesRead: number;
      try {
        ({ bytesRead } = await handle.read(
          buffer,
          doneBytes,
          lengthBytes - doneBytes,
          offsetBytes + doneBytes,
        ));
      } catch (error) {
        throw readError(offsetBytes + doneBytes, describeError(error), error);
      }
      if (bytesRead === 0)
        throw readError(offsetBytes + doneBytes, `the file ended before ${sizeBytes} bytes`);
      doneBytes += bytesRead;
    }
    return buffer;
  }

  async function* scanDataRanges(): AsyncIterable<DiskRange> {
    for (let windowBytes = 0; windowBytes < sizeBytes; windowBytes += SCAN_WINDOW_BYTES) {
      const endBytes = Math.min(sizeBytes, windowBytes + SCAN_WINDOW_BYTES);
      let ranges: DiskRange[];
      try {
        ranges = await dataRanges(handle.fd, windowBytes, endBytes, { path });
      } catch (error) {
        throw readError(windowBytes, describeError(error), error);
      }
      yield* ranges;
    }
  }

  return {
    sizeBytes,
    read,
    ...(sparse ? { dataRanges: scanDataRanges } : {}),
    close: () => handle.close(),
  };
}
