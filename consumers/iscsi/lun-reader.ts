/**
 * Reads a disk back from its LUN (`RestorePointReader`) with READ(16) (SBC-4 §5.18), for
 * `extentlog verify` and `extentlog restore`. Byte ranges are widened to whole logical blocks
 * and cut at the LUN's maximum transfer length; reads survive a reconnect like writes do
 * (lun-connection.ts). The LUN holds one state, the latest restore point.
 */
import { describeError } from '../../errors/extentlog-error.js';
import { TargetError } from '../errors.js';
import { readRangeProblem } from '../read-range.js';
import type { RestorePointReader } from '../target.js';
import type { Lun } from './lun.js';

/** `sizeBytes` is the disk's size at the restore point; the LUN may be larger. */
export function lunReader(lun: Lun, diskId: string, sizeBytes: number): RestorePointReader {
  const readError = (offsetBytes: number, problem: string, cause?: unknown) =>
    new TargetError(
      'EXTENTLOG_ERR_TARGET_READ',
      `disk ${diskId}: reading ${lun.description} at offset ${offsetBytes} failed: ${problem}`,
      {
        ...(cause === undefined ? {} : { cause }),
        details: { diskId, lun: lun.description, offsetBytes },
      },
    );

  async function read(offsetBytes: number, lengthBytes: number): Promise<Buffer> {
    const problem = readRangeProblem(offsetBytes, lengthBytes, sizeBytes);
    if (problem !== null) throw readError(offsetBytes, problem);
    const { blockSizeBytes, maxWriteBytes } = lun.geometry;
    const firstLba = Math.floor(offsetBytes / blockSizeBytes);
    const endLba = Math.ceil((offsetBytes + lengthBytes) / blockSizeBytes);
    const blocks = Buffer.allocUnsafe((endLba - firstLba) * blockSizeBytes);
    // The transfer limit of writes is the LUN's MAXIMUM TRANSFER LENGTH, which bounds reads too.
    const chunkBlocks = maxWriteBytes / blockSizeBytes;
    const reads: Promise<unknown>[] = [];
    for (let lba = firstLba; lba < endLba; lba += chunkBlocks) {
      const start = (lba - firstLba) * blockSizeBytes;
      const end = Math.min(endLba - firstLba, lba - firstLba + chunkBlocks) * blockSizeBytes;
      reads.push(lun.read(lba, blocks.subarray(start, end)));
    }
    try {
      await Promise.all(reads);
    } catch (error) {
      await Promise.allSettled(reads);
      throw readError(offsetBytes, describeError(error), error);
    }
    const skipBytes = offsetBytes - firstLba * blockSizeBytes;
    return blocks.subarray(skipBytes, skipBytes + lengthBytes);
  }

  return { sizeBytes, read, close: () => lun.close() };
}
