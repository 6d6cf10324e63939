/**
 * Finds the changed (or the allocated) ranges of a volume with GET LBA STATUS (SBC-4 §5.8–5.9),
 * as OCI documents for the volumes it restores from two backups ("volumeBackupDelta"): the
 * volume holds only the blocks that changed between the backups, and GET LBA STATUS(32) with
 * report type 1 (LBAs with a non-zero provisioning status) lists them with provisioning
 * status 3. Scans go in windows of at most 1 GiB of logical blocks (longer scan lengths are
 * not supported there), and within a window page by the completion condition:
 *
 *   allocation length met → ask again from the end of the last descriptor
 *   scan length met / capacity of the medium met → the window is done
 *
 * A device that rejects the 32-byte CDB (ILLEGAL REQUEST: INVALID COMMAND OPERATION CODE or
 * INVALID FIELD IN CDB) is scanned with GET LBA STATUS(16) instead, which reports every block
 * in order from the starting LBA; mapped blocks (status 0 or 3) are the changed ones.
 *
 * Modes: 'changed' yields the changed ranges only; 'allocation' (a volume restored in full)
 * yields mapped ranges as data and deallocated ones as unmapped, covering the whole volume.
 */
import { refusesCommand } from '../../native/iscsi/index.js';
import type {
  GetLbaStatus16Request,
  GetLbaStatus32Request,
  LbaStatusDescriptor,
  LbaStatusReport,
} from '../../native/iscsi/lba-status.js';
import { SourceError } from '../errors.js';

export interface LbaStatusDevice {
  getLbaStatus32(request: GetLbaStatus32Request): Promise<LbaStatusReport>;
  getLbaStatus16(request: GetLbaStatus16Request): Promise<LbaStatusReport>;
}

export type LbaScanMode = 'changed' | 'allocation';

/** Half-open [startBytes, endBytes). */
export interface ScannedRange {
  readonly startBytes: number;
  readonly endBytes: number;
  readonly kind: 'data' | 'unmapped';
}

export interface LbaStatusScanOptions {
  readonly device: LbaStatusDevice;
  readonly blocks: number;
  readonly blockSizeBytes: number;
  /** At most 1 GiB (the default). */
  readonly windowBytes?: number;
  readonly mode: LbaScanMode;
  /** Bytes of parameter data per command (default 64 KiB: 4095 descriptors). */
  readonly allocationBytes?: number;
  /** Told once when the device does not take GET LBA STATUS(32). */
  readonly onFallback?: (reason: string) => void;
}

export const MAX_SCAN_WINDOW_BYTES = 1024 * 1024 * 1024;
const REPORT_TYPE_ALL = 0;
const REPORT_TYPE_NONZERO = 1;
const STATUS_MAPPED_OR_UNKNOWN = 0;
const STATUS_MAPPED = 3;
const STATUS_UNKNOWN = 4;

function scanError(message: string, details: Record<string, unknown>): SourceError {
  return new SourceError('EXTENTLOG_ERR_SOURCE_CHANGE_SCAN', `GET LBA STATUS scan: ${message}`, {
    details,
  });
}

/** Merges adjacent ranges of the same kind as they come. */
class RangeJoiner {
  private pending: { startBytes: number; endBytes: number; kind: ScannedRange['kind'] } | null =
    null;

  add(range: ScannedRange): ScannedRange | null {
    const pending = this.pending;
    if (pending !== null && pending.kind === range.kind && pending.endBytes === range.startBytes) {
      pending.endBytes = range.endBytes;
      return null;
    }
    this.pending = { ...range };
    return pending;
  }

  end(): ScannedRange | null {
    const pending = this.pending;
    this.pending = null;
    return pending;
  }
}

export async function* scanLbaStatus(options: LbaStatusScanOptions): AsyncGenerator<ScannedRange> {
  const { device, blocks, blockSizeBytes, mode } = options;
  const windowBytes = Math.min(options.windowBytes ?? MAX_SCAN_WINDOW_BYTES, MAX_SCAN_WINDOW_BYTES);
  const windowBlocks = Math.max(1, Math.floor(windowBytes / blockSizeBytes));
  const allocationBytes = options.allocationBytes ?? 64 * 1024;
  const joiner = new RangeJoiner();
  const gapKind: ScannedRange['kind'] | null = mode === 'allocation' ? 'data' : null;
  let use32 = true;

  async function query(
    lba: number,
    windowEnd: number,
  ): Promise<{ report: LbaStatusReport; form: 16 | 32 }> {
    const reportType = mode === 'changed' ? REPORT_TYPE_NONZERO : REPORT_TYPE_ALL;
    if (use32) {
      try {
        const report = await device.getLbaStatus32({
          lba,
          scanLengthBlocks: windowEnd - lba,
          reportType,
          allocationBytes,
        });
        return { report, form: 32 };
      } catch (error) {
        if (!refusesCommand(error)) throw error;
        use32 = false;
        options.onFallback?.(error instanceof Error ? error.message : String(error));
      }
    }
    return { report: await device.getLbaStatus16({ lba, allocationBytes }), form: 16 };
  }

  const isData = (descriptor: LbaStatusDescriptor, form: 16 | 32): boolean =>
    mode === 'changed' && form === 32
      ? descriptor.provisioningStatus === STATUS_MAPPED
      : [STATUS_MAPPED_OR_UNKNOWN, STATUS_MAPPED, STATUS_UNKNOWN].includes(
          descriptor.provisioningStatus,
        );

  for (let windowStart = 0; windowStart < blocks; windowStart += windowBlocks) {
    const windowEnd = Math.min(blocks, windowStart + windowBlocks);
    let lba = windowStart;
    /** Blocks before this one are accounted for (allocation mode fills gaps as data). */
    let cursor = windowStart;
    const emit = function* (startLba: number, endLba: number, kind: ScannedRange['kind'] | null) {
      if (endLba <= startLba) return;
      if (kind === null) return;
      const done = joiner.add({
        startBytes: startLba * blockSizeBytes,
        endBytes: endLba * blockSizeBytes,
        kind,
      });
      if (done !== null) yield done;
    };
    while (lba < windowEnd) {
      const { report, form } = await query(lba, windowEnd);
      let next = lba;
      for (const descriptor of report.descriptors) {
        const end = descriptor.lba + descriptor.blocks;
        if (descriptor.blocks === 0 || end <= cursor) continue;
        if (descriptor.lba >= windowEnd) break;
        const start = Math.max(descriptor.lba, cursor);
        const clippedEnd = Math.min(end, windowEnd);
        // A gap before a descriptor: unchanged blocks report type 1 leaves out; a full scan
        // reads what it was not told about.
        yield* emit(cursor, start, gapKind);
        const data = isData(descriptor, form);
        yield* emit(start, clippedEnd, data ? 'data' : mode === 'allocation' ? 'unmapped' : null);
        cursor = clippedEnd;
        next = clippedEnd;
      }
      const windowDone =
        (form === 32 &&
          (report.completionCondition === 'scan-length' ||
            report.completionCondition === 'capacity')) ||
        (report.descriptors.length === 0 && form === 32) ||
        next >= windowEnd;
      if (windowDone) break;
      if (next <= lba)
        throw scanError(
          `GET LBA STATUS(${form}) at LBA ${lba} returned no descriptor past it (completion condition ${report.completionCondition}, ${report.descriptors.length} descriptors)`,
          { lba, form, windowStart, windowEnd },
        );
      lba = next;
    }
    yield* emit(cursor, windowEnd, gapKind);
  }
  const last = joiner.end();
  if (last !== null) yield last;
}
