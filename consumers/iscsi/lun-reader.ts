/**
 * Reads a disk back from its LUN (`RestorePointReader`) with READ(16) (SBC-4 §5.18), for
 * `extentlog verify` and `extentlog restore`. Byte ranges are widened to whole logical blocks
 * and cut at the LUN's maximum transfer length; reads survive a reconnect like writes do
 * (lun-connection.ts). The LUN holds one state, the latest restore point.
 *
 * On a LUN whose unmapped blocks read as zeros (LBPRZ), GET LBA STATUS(16) (SBC-4 §5.8) tells
 * the data ranges: deallocated and anchored blocks are holes that need not be read. A LUN
 * that refuses the command is all data.
 */
import { describeError } from '../../errors/extentlog-error.js';
import { TargetError } from '../errors.js';
import { readRangeProblem } from '../read-range.js';
import { refusesCommand } from '../../native/iscsi/index.js';
import { PROVISIONING_STATUS } from '../../native/iscsi/lba-status.js';
import type { DiskRange, RestorePointReader } from '../target.js';
import type { Lun } from './lun.js';

/** 4095 descriptors per GET LBA STATUS: what fits a 16-bit-sized buffer, as sg_get_lba_status asks. */
const LBA_STATUS_ALLOCATION_BYTES = 8 + 4095 * 16;

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

  async function* dataRanges(): AsyncIterable<DiskRange> {
    const { blockSizeBytes } = lun.geometry;
    const endLba = Math.ceil(sizeBytes / blockSizeBytes);
    let pending: DiskRange | null = null;
    let lba = 0;
    while (lba < endLba) {
      let descriptors;
      try {
        ({ descriptors } = await lun.lbaStatus!(lba, LBA_STATUS_ALLOCATION_BYTES));
      } catch (error) {
        // A LUN without GET LBA STATUS: everything from here on is data.
        if (lba === 0 && refusesCommand(error)) descriptors = [];
        else throw readError(lba * blockSizeBytes, describeError(error), error);
      }
      const covering = descriptors.filter((entry) => entry.lba + entry.blocks > lba);
      if (covering.length === 0 || covering[0]!.lba > lba) {
        // No progress (or a gap the target did not describe): read the rest as data.
        covering.length = 0;
        covering.push({ lba, blocks: endLba - lba, provisioningStatus: 0, additionalStatus: 0 });
      }
      for (const entry of covering) {
        const startLba = Math.max(lba, entry.lba);
        const stopLba = Math.min(endLba, entry.lba + entry.blocks);
        if (stopLba <= startLba) continue;
        lba = stopLba;
        const unmapped =
          entry.provisioningStatus === PROVISIONING_STATUS.DEALLOCATED ||
          entry.provisioningStatus === PROVISIONING_STATUS.ANCHORED;
        if (unmapped) continue;
        const startBytes = startLba * blockSizeBytes;
        const endBytes = Math.min(sizeBytes, stopLba * blockSizeBytes);
        if (pending !== null && pending.endBytes === startBytes)
          pending = { startBytes: pending.startBytes, endBytes };
        else {
          if (pending !== null) yield pending;
          pending = { startBytes, endBytes };
        }
      }
    }
    if (pending !== null) yield pending;
  }

  const holesReadAsZeros = lun.lbaStatus !== undefined && lun.geometry.readsZerosWhenUnmapped;
  return {
    sizeBytes,
    read,
    ...(holesReadAsZeros ? { dataRanges } : {}),
    close: () => lun.close(),
  };
}
