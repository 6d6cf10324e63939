/**
 * Decoding of the extentlog kernel journal's records, `struct exl_record` of
 * kmod/uapi/extentlog.h: 64 bytes each, in the CPU's byte order (little-endian on every
 * platform the module is built for), read(2) from /dev/extentlog/<name>.
 *
 *   0 pos · 8 seq · 16 sector · 24 nr_sectors (u32) · 28 type (u16) · 30 flags (u16)
 *   32 issued_ns · 40 completed_ns · 48 status (s32) · 52 reserved · 56 arg
 *
 * Positions, sequences and timestamps stay bigint (u64 in the kernel); byte offsets and
 * lengths are numbers (a device below 8 PiB).
 */
import { NativeError } from '../errors.js';

export const JOURNAL_RECORD_BYTES = 64;
const SECTOR_BYTES = 512;

/** Byte offsets of the fields; the addon reports offsetof() of each for a check. */
export const JOURNAL_RECORD_LAYOUT = {
  pos: 0,
  seq: 8,
  sector: 16,
  nrSectors: 24,
  type: 28,
  flags: 30,
  issuedNs: 32,
  completedNs: 40,
  status: 48,
  arg: 56,
} as const;
const L = JOURNAL_RECORD_LAYOUT;

/** enum exl_record_type, by value. */
export const JOURNAL_RECORD_TYPES = [
  undefined,
  'WRITE',
  'DISCARD',
  'WRITE_ZEROES',
  'FLUSH',
  'OVERFLOW',
  'SNAP_START',
  'SNAP_STOP',
  'SNAP_INVALID',
] as const;

export type JournalRecordType = Exclude<(typeof JOURNAL_RECORD_TYPES)[number], undefined>;

/** The record types that change a device's content. */
export const DATA_RECORD_TYPES: ReadonlySet<JournalRecordType> = new Set([
  'WRITE',
  'DISCARD',
  'WRITE_ZEROES',
]);

const FLAG_FUA = 1;
const FLAG_PREFLUSH = 2;

export interface JournalRecord {
  /** Ring position: dense and increasing in completion order. */
  readonly pos: bigint;
  /** Per-device sequence number from 1, assigned when the bio was issued; 0 for markers. */
  readonly seq: bigint;
  readonly type: JournalRecordType;
  /** Half-open [offsetBytes, offsetBytes + lengthBytes) on the protected device. */
  readonly offsetBytes: number;
  readonly lengthBytes: number;
  readonly fua: boolean;
  readonly preflush: boolean;
  /** CLOCK_MONOTONIC nanoseconds of the guest or host that journaled it. */
  readonly issuedNs: bigint;
  readonly completedNs: bigint;
  /** 0, or the negative errno the bio completed with. */
  readonly status: number;
  /** OVERFLOW: records lost just before this one; SNAP_*: the snapshot id. */
  readonly arg: bigint;
}

/** Decodes whole records; `buffer.length` must be a multiple of JOURNAL_RECORD_BYTES. */
export function decodeJournalRecords(buffer: Buffer): JournalRecord[] {
  if (buffer.length % JOURNAL_RECORD_BYTES !== 0) {
    throw new NativeError(
      'EXTENTLOG_ERR_NATIVE_BAD_RECORD',
      `journal records: expected a multiple of ${JOURNAL_RECORD_BYTES} bytes, received ${buffer.length}`,
    );
  }
  const records: JournalRecord[] = [];
  for (let at = 0; at < buffer.length; at += JOURNAL_RECORD_BYTES) {
    const typeValue = buffer.readUInt16LE(at + L.type);
    const type = JOURNAL_RECORD_TYPES[typeValue];
    if (type === undefined) {
      throw new NativeError(
        'EXTENTLOG_ERR_NATIVE_BAD_RECORD',
        `journal record at byte ${at}: expected a type 1-${JOURNAL_RECORD_TYPES.length - 1}, received ${typeValue}`,
      );
    }
    const flags = buffer.readUInt16LE(at + L.flags);
    records.push({
      pos: buffer.readBigUInt64LE(at + L.pos),
      seq: buffer.readBigUInt64LE(at + L.seq),
      type,
      offsetBytes: Number(buffer.readBigUInt64LE(at + L.sector)) * SECTOR_BYTES,
      lengthBytes: buffer.readUInt32LE(at + L.nrSectors) * SECTOR_BYTES,
      fua: (flags & FLAG_FUA) !== 0,
      preflush: (flags & FLAG_PREFLUSH) !== 0,
      issuedNs: buffer.readBigUInt64LE(at + L.issuedNs),
      completedNs: buffer.readBigUInt64LE(at + L.completedNs),
      status: buffer.readInt32LE(at + L.status),
      arg: buffer.readBigUInt64LE(at + L.arg),
    });
  }
  return records;
}
