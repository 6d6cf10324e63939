/**
 * Zeroing of a block device target through the ioctls of include/uapi/linux/fs.h:
 * ZERO → BLKZEROOUT (the kernel uses WRITE ZEROES where write_zeroes_max_bytes > 0, else it
 * writes zero pages); DISCARD → BLKDISCARD where discard_max_bytes > 0, else BLKZEROOUT.
 * BLKDISCARDZEROES is gone from current kernels, so ZERO never relies on a discard reading
 * back as zeros; a DISCARD is a hint and reads back as the device decides.
 *
 * Both ioctls need logical-sector-aligned ranges: unaligned edges are written as zeros.
 * The device's size is fixed: an epoch for a larger disk is refused.
 */
import type { FileHandle } from 'node:fs/promises';
import type { Logger } from 'pino';
import { writeZeros } from '../../native/fileio/fallbacks.js';
import { readBlockDeviceQueue } from '../../native/fileio/block-device-queue.js';
import * as fileio from '../../native/fileio/index.js';
import { TargetError } from '../errors.js';
import type { EpochBegin } from '../target.js';
import type { MediumOps } from './target-disk.js';

export function tooSmall(diskId: string, path: string, diskSizeBytes: number, deviceBytes: number) {
  return new TargetError(
    'EXTENTLOG_ERR_TARGET_TOO_SMALL',
    `disk ${diskId} has ${diskSizeBytes} bytes but block device ${path} has only ${deviceBytes} bytes: give it a device of at least ${diskSizeBytes} bytes`,
    { details: { diskId, path, diskSizeBytes, deviceSizeBytes: deviceBytes } },
  );
}

export async function blockDeviceMedium(
  handle: FileHandle,
  path: string,
  diskId: string,
  deviceBytes: number,
  logger: Logger,
): Promise<MediumOps> {
  const { rdev } = await handle.stat();
  const sectors = await fileio.blockDeviceSectorSizes(handle.fd, { path });
  const sectorBytes = sectors.logicalBytes;
  let discardMaxBytes = 0;
  try {
    ({ discardMaxBytes } = await readBlockDeviceQueue(rdev));
  } catch (error) {
    logger.warn(
      { path, diskId, err: error },
      'file target: cannot read the device queue limits in sysfs; DISCARD will zero instead',
    );
  }

  /** Runs `aligned` on the sector-aligned middle of the range and writes zeros at its edges. */
  async function alignedOr(
    offsetBytes: number,
    lengthBytes: number,
    aligned: (fd: number, offsetBytes: number, lengthBytes: number) => Promise<void>,
  ): Promise<void> {
    const endBytes = offsetBytes + lengthBytes;
    const middleStart = Math.ceil(offsetBytes / sectorBytes) * sectorBytes;
    const middleEnd = Math.floor(endBytes / sectorBytes) * sectorBytes;
    if (middleEnd <= middleStart) return writeZeros(handle.fd, offsetBytes, lengthBytes);
    if (middleStart > offsetBytes)
      await writeZeros(handle.fd, offsetBytes, middleStart - offsetBytes);
    await aligned(handle.fd, middleStart, middleEnd - middleStart);
    if (endBytes > middleEnd) await writeZeros(handle.fd, middleEnd, endBytes - middleEnd);
  }

  const zeroOut = (fd: number, offsetBytes: number, lengthBytes: number) =>
    fileio.zeroOutRange(fd, offsetBytes, lengthBytes, { path });
  const discard = (fd: number, offsetBytes: number, lengthBytes: number) =>
    fileio.discardRange(fd, offsetBytes, lengthBytes, { path });

  return {
    zero: (offsetBytes, lengthBytes) => alignedOr(offsetBytes, lengthBytes, zeroOut),
    discard: (offsetBytes, lengthBytes) =>
      alignedOr(offsetBytes, lengthBytes, discardMaxBytes > 0 ? discard : zeroOut),
    async resize(begin: EpochBegin): Promise<number> {
      if (begin.diskSizeBytes > deviceBytes)
        throw tooSmall(diskId, path, begin.diskSizeBytes, deviceBytes);
      return deviceBytes;
    },
  };
}
