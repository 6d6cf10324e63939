/**
 * GET LBA STATUS (SBC-4 §5.8 and §5.9): the CDBs and the parameter data.
 *
 * GET LBA STATUS(16) — SERVICE ACTION IN(16), 16 bytes:
 *
 *   0    OPERATION CODE 0x9E           10–13  ALLOCATION LENGTH
 *   1    SERVICE ACTION 0x12 (4:0)     14     REPORT TYPE (SBC-4; SBC-3 reserved)
 *   2–9  STARTING LOGICAL BLOCK ADDRESS 15    CONTROL
 *
 * GET LBA STATUS(32) — variable-length CDB (SPC-5 §4.2.3), 32 bytes:
 *
 *   0    OPERATION CODE 0x7F           12–19  STARTING LOGICAL BLOCK ADDRESS
 *   1    CONTROL                       20–23  SCAN LENGTH (blocks; 0 = no limit)
 *   2–6  reserved                      24–27  ELEMENT IDENTIFIER
 *   7    ADDITIONAL CDB LENGTH 0x18    28–31  ALLOCATION LENGTH
 *   8–9  SERVICE ACTION 0x0012
 *   10   REPORT TYPE, 11 reserved
 *
 * Parameter data (both forms):
 *
 *   0–3  PARAMETER DATA LENGTH (bytes that follow byte 3)
 *   7    COMPLETION CONDITION (3:1) · RTP (0)
 *   8–   LBA status descriptors, 16 bytes each:
 *        0–7 LBA · 8–11 NUMBER OF LOGICAL BLOCKS · 12 PROVISIONING STATUS (3:0) · 13 ADDITIONAL STATUS
 *
 * Report types: 0 all LBAs, 1 LBAs with a non-zero provisioning status, 2 mapped, 3
 * deallocated, 4 anchored, 0x10 may return unrecovered errors. Provisioning status: 0 mapped
 * or unknown, 1 deallocated, 2 anchored, 3 mapped, 4 unknown.
 */
import { NativeError } from '../errors.js';

export const LBA_STATUS_REPORT_TYPE = {
  ALL: 0,
  NONZERO_PROVISIONING_STATUS: 1,
  MAPPED: 2,
  DEALLOCATED: 3,
  ANCHORED: 4,
  UNRECOVERED_ERRORS: 0x10,
} as const;

export const PROVISIONING_STATUS = {
  MAPPED_OR_UNKNOWN: 0,
  DEALLOCATED: 1,
  ANCHORED: 2,
  MAPPED: 3,
  UNKNOWN: 4,
} as const;

export type CompletionCondition =
  'not-reported' | 'allocation-length' | 'scan-length' | 'capacity' | 'reserved';

const COMPLETION_CONDITIONS: readonly CompletionCondition[] = [
  'not-reported',
  'allocation-length',
  'scan-length',
  'capacity',
];

export const LBA_STATUS_HEADER_BYTES = 8;
export const LBA_STATUS_DESCRIPTOR_BYTES = 16;

export interface LbaStatusDescriptor {
  readonly lba: number;
  readonly blocks: number;
  readonly provisioningStatus: number;
  readonly additionalStatus: number;
}

export interface LbaStatusReport {
  readonly descriptors: readonly LbaStatusDescriptor[];
  readonly completionCondition: CompletionCondition;
  /** REPORT TYPE PROCESSED: the device honoured the report type. */
  readonly rtp: boolean;
  /** The target had more descriptors than the allocation length let through. */
  readonly truncated: boolean;
}

export interface GetLbaStatus16Request {
  readonly lba: number;
  readonly allocationBytes: number;
  readonly reportType?: number;
}

export interface GetLbaStatus32Request {
  readonly lba: number;
  /** Blocks to scan from `lba`; 0 lets the device choose. */
  readonly scanLengthBlocks: number;
  readonly allocationBytes: number;
  readonly reportType?: number;
  readonly elementId?: number;
}

function invalid(name: string, expected: string, received: number): NativeError {
  return new NativeError(
    'EXTENTLOG_ERR_NATIVE_INVALID_ARGUMENT',
    `GET LBA STATUS: ${name} must be ${expected}, received ${received}`,
    { details: { argument: name } },
  );
}

function check(name: string, value: number, maximum: number): void {
  if (!Number.isSafeInteger(value) || value < 0 || value > maximum)
    throw invalid(name, `an integer from 0 to ${maximum}`, value);
}

export function getLbaStatus16Cdb(request: GetLbaStatus16Request): Buffer {
  check('lba', request.lba, Number.MAX_SAFE_INTEGER);
  check('allocationBytes', request.allocationBytes, 0xffffffff);
  check('reportType', request.reportType ?? 0, 0xff);
  const cdb = Buffer.alloc(16);
  cdb[0] = 0x9e;
  cdb[1] = 0x12;
  cdb.writeBigUInt64BE(BigInt(request.lba), 2);
  cdb.writeUInt32BE(request.allocationBytes, 10);
  cdb[14] = request.reportType ?? 0;
  return cdb;
}

export function getLbaStatus32Cdb(request: GetLbaStatus32Request): Buffer {
  check('lba', request.lba, Number.MAX_SAFE_INTEGER);
  check('scanLengthBlocks', request.scanLengthBlocks, 0xffffffff);
  check('allocationBytes', request.allocationBytes, 0xffffffff);
  check('reportType', request.reportType ?? 0, 0xff);
  check('elementId', request.elementId ?? 0, 0xffffffff);
  const cdb = Buffer.alloc(32);
  cdb[0] = 0x7f;
  cdb[7] = 32 - 8;
  cdb.writeUInt16BE(0x0012, 8);
  cdb[10] = request.reportType ?? 0;
  cdb.writeBigUInt64BE(BigInt(request.lba), 12);
  cdb.writeUInt32BE(request.scanLengthBlocks, 20);
  cdb.writeUInt32BE(request.elementId ?? 0, 24);
  cdb.writeUInt32BE(request.allocationBytes, 28);
  return cdb;
}

/** Decodes GET LBA STATUS parameter data (either CDB form). */
export function parseLbaStatus(data: Buffer): LbaStatusReport {
  if (data.length < LBA_STATUS_HEADER_BYTES)
    throw new NativeError(
      'EXTENTLOG_ERR_NATIVE_ISCSI_RESPONSE',
      `GET LBA STATUS: expected at least ${LBA_STATUS_HEADER_BYTES} bytes of parameter data, received ${data.length} (${data.toString('hex')})`,
    );
  const totalBytes = data.readUInt32BE(0) + 4;
  const usable = Math.min(totalBytes, data.length);
  const count = Math.floor((usable - LBA_STATUS_HEADER_BYTES) / LBA_STATUS_DESCRIPTOR_BYTES);
  const descriptors: LbaStatusDescriptor[] = [];
  for (let index = 0; index < count; index++) {
    const at = LBA_STATUS_HEADER_BYTES + index * LBA_STATUS_DESCRIPTOR_BYTES;
    const lba = data.readBigUInt64BE(at);
    if (lba > BigInt(Number.MAX_SAFE_INTEGER))
      throw new NativeError(
        'EXTENTLOG_ERR_NATIVE_ISCSI_RESPONSE',
        `GET LBA STATUS: descriptor ${index} starts at LBA ${lba}, beyond what this initiator addresses (2^53)`,
      );
    descriptors.push({
      lba: Number(lba),
      blocks: data.readUInt32BE(at + 8),
      provisioningStatus: (data[at + 12] ?? 0) & 0x0f,
      additionalStatus: data[at + 13] ?? 0,
    });
  }
  const flags = data[7] ?? 0;
  return {
    descriptors,
    completionCondition: COMPLETION_CONDITIONS[(flags >> 1) & 0x07] ?? 'reserved',
    rtp: (flags & 0x01) !== 0,
    truncated: totalBytes > data.length,
  };
}
