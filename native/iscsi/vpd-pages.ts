/**
 * Decoders of the parameter data that describes a block logical unit (SBC-4):
 *
 *   READ CAPACITY(16) (§5.20.2, 32 bytes)
 *     0–7 RETURNED LOGICAL BLOCK ADDRESS · 8–11 LOGICAL BLOCK LENGTH IN BYTES
 *     13 bits 3:0 LOGICAL BLOCKS PER PHYSICAL BLOCK EXPONENT · 14 bit 7 LBPME, bit 6 LBPRZ
 *   Block Limits VPD page 0xB0 (§6.6.4)
 *     8–11 MAXIMUM TRANSFER LENGTH · 12–15 OPTIMAL TRANSFER LENGTH · 20–23 MAXIMUM UNMAP LBA
 *     COUNT · 24–27 MAXIMUM UNMAP BLOCK DESCRIPTOR COUNT · 28–31 OPTIMAL UNMAP GRANULARITY ·
 *     36–43 MAXIMUM WRITE SAME LENGTH (all in logical blocks; 0 = no limit reported)
 *   Logical Block Provisioning VPD page 0xB2 (§6.6.6)
 *     5 bit 7 LBPU (UNMAP), bit 6 LBPWS (WRITE SAME(16) with UNMAP), bits 4:2 LBPRZ ·
 *     6 bits 2:0 PROVISIONING TYPE (0 full, 1 resource, 2 thin)
 */
import { NativeError } from '../errors.js';

export interface ReadCapacity16 {
  /** Number of logical blocks (RETURNED LOGICAL BLOCK ADDRESS + 1). */
  readonly blocks: number;
  readonly blockSizeBytes: number;
  readonly sizeBytes: number;
  readonly physicalBlockSizeBytes: number;
  /** Logical block provisioning management enabled: the unit is thin-provisioned. */
  readonly lbpme: boolean;
  /** Unmapped blocks read as zeros. */
  readonly lbprz: boolean;
}

export interface BlockLimits {
  /** Largest READ/WRITE in blocks; 0 when the unit reports no limit. */
  readonly maxTransferBlocks: number;
  readonly optimalTransferBlocks: number;
  readonly maxUnmapBlocks: number;
  readonly maxUnmapDescriptors: number;
  readonly optimalUnmapGranularityBlocks: number;
  /** Largest WRITE SAME in blocks; 0 when the unit reports no limit. */
  readonly maxWriteSameBlocks: number;
}

export interface LogicalBlockProvisioning {
  /** UNMAP is supported. */
  readonly lbpu: boolean;
  /** WRITE SAME(16) with the UNMAP bit is supported. */
  readonly lbpws: boolean;
  /** Unmapped blocks read as zeros (SBC-4 LBPRZ ≠ 0). */
  readonly lbprz: boolean;
  readonly provisioningType: 'full' | 'resource' | 'thin' | 'unknown';
}

function tooShort(what: string, needed: number, data: Buffer): NativeError {
  return new NativeError(
    'EXTENTLOG_ERR_NATIVE_ISCSI_RESPONSE',
    `${what}: expected at least ${needed} bytes of parameter data, received ${data.length} (${data.subarray(0, 16).toString('hex')})`,
    { details: { received: data.length, needed } },
  );
}

function u64(data: Buffer, at: number): number {
  const value = data.readBigUInt64BE(at);
  if (value > BigInt(Number.MAX_SAFE_INTEGER))
    throw new NativeError(
      'EXTENTLOG_ERR_NATIVE_ISCSI_RESPONSE',
      `a 64-bit field at byte ${at} holds ${value}, beyond what this initiator addresses (2^53)`,
    );
  return Number(value);
}

export function parseReadCapacity16(data: Buffer): ReadCapacity16 {
  if (data.length < 16) throw tooShort('READ CAPACITY(16)', 16, data);
  const blocks = u64(data, 0) + 1;
  const blockSizeBytes = data.readUInt32BE(8);
  const exponent = (data[13] ?? 0) & 0x0f;
  const flags = data[14] ?? 0;
  return {
    blocks,
    blockSizeBytes,
    sizeBytes: blocks * blockSizeBytes,
    physicalBlockSizeBytes: blockSizeBytes * 2 ** exponent,
    lbpme: (flags & 0x80) !== 0,
    lbprz: (flags & 0x40) !== 0,
  };
}

function checkPage(what: string, page: number, data: Buffer, needed: number): void {
  if (data.length < 4) throw tooShort(what, 4, data);
  if (data[1] !== page)
    throw new NativeError(
      'EXTENTLOG_ERR_NATIVE_ISCSI_RESPONSE',
      `${what}: expected VPD page 0x${page.toString(16)}, received page 0x${(data[1] ?? 0).toString(16)}`,
    );
  if (data.length < needed) throw tooShort(what, needed, data);
}

export function parseBlockLimits(data: Buffer): BlockLimits {
  checkPage('Block Limits VPD page', 0xb0, data, 32);
  const pageEnd = Math.min(data.length, 4 + data.readUInt16BE(2));
  return {
    maxTransferBlocks: data.readUInt32BE(8),
    optimalTransferBlocks: data.readUInt32BE(12),
    maxUnmapBlocks: data.readUInt32BE(20),
    maxUnmapDescriptors: data.readUInt32BE(24),
    optimalUnmapGranularityBlocks: data.readUInt32BE(28),
    maxWriteSameBlocks: pageEnd >= 44 ? u64(data, 36) : 0,
  };
}

const PROVISIONING_TYPES = ['full', 'resource', 'thin'] as const;

export function parseLogicalBlockProvisioning(data: Buffer): LogicalBlockProvisioning {
  checkPage('Logical Block Provisioning VPD page', 0xb2, data, 8);
  const flags = data[5] ?? 0;
  return {
    lbpu: (flags & 0x80) !== 0,
    lbpws: (flags & 0x40) !== 0,
    lbprz: (flags & 0x1c) !== 0,
    provisioningType: PROVISIONING_TYPES[(data[6] ?? 0) & 0x07] ?? 'unknown',
  };
}
