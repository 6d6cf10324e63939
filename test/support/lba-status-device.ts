/**
 * A block device that answers GET LBA STATUS as SBC-4 §5.8–5.9 describe it, for scanner unit
 * tests: it encodes its answer as parameter data bytes (header: length, completion condition,
 * RTP; 16-byte descriptors) and hands them through the same decoder real responses go
 * through. The 32-byte form honours scan length, report type and allocation length and says
 * which one ended the command; the 16-byte form reports every block from the starting LBA,
 * as tgtd does. It can refuse the 32-byte CDB (INVALID COMMAND OPERATION CODE), as tgtd does.
 */
import type { LbaStatusDevice } from '../../producers/oci/lba-status-scanner.js';
import {
  parseLbaStatus,
  type GetLbaStatus16Request,
  type GetLbaStatus32Request,
  type LbaStatusReport,
} from '../../native/iscsi/lba-status.js';
import { NativeError } from '../../native/errors.js';

/** Runs of blocks with one provisioning status, in LBA order, covering the device. */
export interface StatusRun {
  readonly lba: number;
  readonly blocks: number;
  readonly status: number;
}

export class SpecLbaStatusDevice implements LbaStatusDevice {
  readonly requests: (GetLbaStatus32Request | (GetLbaStatus16Request & { form: 16 }))[] = [];

  constructor(
    private readonly runs: readonly StatusRun[],
    private readonly options: { refuse32?: boolean; status16?: (status: number) => number } = {},
  ) {}

  get capacityBlocks(): number {
    const last = this.runs.at(-1);
    return last === undefined ? 0 : last.lba + last.blocks;
  }

  async getLbaStatus32(request: GetLbaStatus32Request): Promise<LbaStatusReport> {
    this.requests.push(request);
    if (this.options.refuse32 === true)
      throw new NativeError('EXTENTLOG_ERR_NATIVE_ISCSI_SCSI', 'INVALID COMMAND OPERATION CODE', {
        details: { senseKey: 0x5, asc: 0x20, ascq: 0 },
      });
    const scanEnd =
      request.scanLengthBlocks === 0
        ? this.capacityBlocks
        : Math.min(this.capacityBlocks, request.lba + request.scanLengthBlocks);
    const wanted = (status: number) => (request.reportType ?? 0) === 0 || status !== 0;
    return this.answer(request.lba, scanEnd, wanted, request.allocationBytes, true);
  }

  async getLbaStatus16(request: GetLbaStatus16Request): Promise<LbaStatusReport> {
    this.requests.push({ ...request, form: 16 });
    return this.answer(
      request.lba,
      this.capacityBlocks,
      () => true,
      request.allocationBytes,
      false,
    );
  }

  private answer(
    lba: number,
    scanEnd: number,
    wanted: (status: number) => boolean,
    allocationBytes: number,
    reportCompletion: boolean,
  ): LbaStatusReport {
    const fits = Math.max(0, Math.floor((allocationBytes - 8) / 16));
    const descriptors: StatusRun[] = [];
    let condition = scanEnd >= this.capacityBlocks ? 3 : 2;
    for (const run of this.runs) {
      const start = Math.max(run.lba, lba);
      const end = Math.min(run.lba + run.blocks, scanEnd);
      if (end <= start) continue;
      const status = reportCompletion
        ? run.status
        : (this.options.status16?.(run.status) ?? run.status);
      if (!wanted(status)) continue;
      if (descriptors.length === fits) {
        condition = 1;
        break;
      }
      descriptors.push({ lba: start, blocks: end - start, status });
    }
    const bytes = Buffer.alloc(8 + 16 * descriptors.length);
    bytes.writeUInt32BE(bytes.length - 4, 0);
    bytes[7] = reportCompletion ? (condition << 1) | 1 : 0;
    descriptors.forEach((descriptor, index) => {
      const at = 8 + 16 * index;
      bytes.writeBigUInt64BE(BigInt(descriptor.lba), at);
      bytes.writeUInt32BE(descriptor.blocks, at + 8);
      bytes[at + 12] = descriptor.status;
    });
    return parseLbaStatus(bytes);
  }
}
