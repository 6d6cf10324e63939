/**
 * The extent checksum. CRC-32C (Castagnoli) over a fixed big-endian header followed by the
 * extent's data, so that a flipped bit in the position as well as in the bytes is caught
 * at the target:
 *
 *   byte  0        8        16             24             32  33
 *         +--------+--------+--------------+--------------+---+
 *         | epoch  |  seq   | offsetBytes  | lengthBytes  |op |  then data (WRITE only)
 *         +--------+--------+--------------+--------------+---+
 *          u64 BE   u64 BE   u64 BE         u64 BE         u8: WRITE=0 ZERO=1 DISCARD=2
 *
 * The same header, followed by the CRC as u32 BE, is what the epoch digest hashes.
 */
import { crc32c } from '@node-rs/crc32';
import type { ExtentOp, ExtentRecord } from './extentlog-record.js';

export const EXTENT_HEADER_BYTES = 33;

export const EXTENT_OP_CODES: Readonly<Record<ExtentOp, number>> = Object.freeze({
  WRITE: 0,
  ZERO: 1,
  DISCARD: 2,
});

export type ExtentChecksumInput = Pick<
  ExtentRecord,
  'epoch' | 'seq' | 'offsetBytes' | 'lengthBytes' | 'op' | 'data'
>;

const TWO_POW_32 = 2 ** 32;

function writeUint64(target: Buffer, value: number, at: number): void {
  target.writeUInt32BE(Math.floor(value / TWO_POW_32), at);
  target.writeUInt32BE(value % TWO_POW_32, at + 4);
}

/** Writes the 33-byte header at `at`; the numbers are non-negative safe integers. */
export function writeExtentHeader(
  target: Buffer,
  extent: Omit<ExtentChecksumInput, 'data'>,
  at = 0,
): void {
  writeUint64(target, extent.epoch, at);
  writeUint64(target, extent.seq, at + 8);
  writeUint64(target, extent.offsetBytes, at + 16);
  writeUint64(target, extent.lengthBytes, at + 24);
  target[at + 32] = EXTENT_OP_CODES[extent.op];
}

// Records are checksummed one at a time on the event loop, so one scratch header suffices.
const scratchHeader = Buffer.alloc(EXTENT_HEADER_BYTES);

/** The unsigned CRC-32C an Extent record carries in `crc32c`. */
export function extentCrc32c(extent: ExtentChecksumInput): number {
  writeExtentHeader(scratchHeader, extent);
  const headerCrc = crc32c(scratchHeader);
  return extent.data === null || extent.data.length === 0
    ? headerCrc
    : crc32c(extent.data, headerCrc);
}
