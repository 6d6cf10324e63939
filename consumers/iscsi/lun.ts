/**
 * What the iSCSI target disk needs from a logical unit: its geometry and idempotent block
 * commands that survive a connection loss. `lun-connection.ts` implements it over the iscsi
 * addon (reconnecting and re-issuing a command whose connection broke); unit tests use an
 * in-memory LUN with a volatile write cache.
 *
 * Every command resolves with the `generation` of the session it completed on: the number of
 * sessions opened to the LUN so far. A write acknowledged on one session and not yet covered
 * by a SYNCHRONIZE CACHE may be lost if the target restarts, and a new session is how the
 * initiator notices that it might have.
 */
import type { LbaStatusReport } from '../../native/iscsi/lba-status.js';

export interface LunGeometry {
  readonly blockSizeBytes: number;
  readonly sizeBytes: number;
  /** Largest WRITE(16), a multiple of the block size (Block Limits' MAXIMUM TRANSFER LENGTH, capped). */
  readonly maxWriteBytes: number;
  /** Largest WRITE SAME(16) in blocks. */
  readonly maxWriteSameBlocks: number;
  readonly maxUnmapBlocks: number;
  readonly maxUnmapDescriptors: number;
  /** UNMAP is supported (LBPME and LBPU). */
  readonly unmapSupported: boolean;
  /** WRITE SAME(16) with the UNMAP bit is supported (LBPME and LBPWS). */
  readonly writeSameUnmapSupported: boolean;
  /** Unmapped blocks read as zeros (LBPRZ). */
  readonly readsZerosWhenUnmapped: boolean;
}

export interface Completion {
  readonly generation: number;
}

export interface BlockRange {
  readonly lba: number;
  readonly blocks: number;
}

export interface Lun {
  /** "iqn… LUN n at host:port", for messages. */
  readonly description: string;
  readonly geometry: LunGeometry;
  /** Reads the capacity and limits again (an administrator may have grown the LUN). */
  refreshGeometry(): Promise<LunGeometry>;
  write(lba: number, data: Buffer): Promise<Completion>;
  read(lba: number, into: Buffer): Promise<Completion>;
  /** WRITE SAME(16) of a zero block; with `unmap` the blocks may be deallocated instead. */
  writeSame(lba: number, blocks: number, unmap: boolean): Promise<Completion>;
  unmap(ranges: readonly BlockRange[]): Promise<Completion>;
  /**
   * GET LBA STATUS(16) from `lba`: which blocks are mapped and which deallocated. Optional:
   * used to skip holes when reading back.
   */
  lbaStatus?(lba: number, allocationBytes: number): Promise<LbaStatusReport>;
  /** SYNCHRONIZE CACHE(16) of the whole unit. */
  synchronizeCache(): Promise<Completion>;
  close(): Promise<void>;
}
