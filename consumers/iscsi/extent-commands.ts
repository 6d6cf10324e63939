/**
 * Turns one extent into SCSI block commands (SBC-4) for a LUN of a given geometry:
 *
 *   offsetBytes                                                           endBytes
 *   |··head··|············ whole blocks ····························|··tail··|
 *     patch    WRITE(16) ≤ maxWriteBytes · WRITE SAME(16) · UNMAP      patch
 *
 * - WRITE: the whole blocks in WRITE(16)s of at most `maxWriteBytes`, each a view of the
 *   extent's data (no copy).
 * - ZERO: WRITE SAME(16) of a zero block, with the UNMAP bit when the LUN supports it and reads
 *   unmapped blocks as zeros (LBPRZ): the range then reads as zeros and takes no space.
 *   Without LBPRZ an unmapped block could read as anything, so zeros are written.
 * - DISCARD: UNMAP when the LUN supports it — a hint, as on the source: what unmapped blocks
 *   read is the LUN's business (zeros with LBPRZ); otherwise the same as ZERO.
 * - A partial block at either end (an extent not aligned to the LUN's block size) is a
 *   `patch`: read the block, change the bytes, write it back.
 */
import type { ApplyExtent } from '../target.js';
import type { BlockRange, LunGeometry } from './lun.js';

export type BlockCommand =
  | { readonly kind: 'write'; readonly lba: number; readonly data: Buffer }
  | {
      readonly kind: 'write-same';
      readonly lba: number;
      readonly blocks: number;
      readonly unmap: boolean;
    }
  | { readonly kind: 'unmap'; readonly ranges: readonly BlockRange[] }
  | {
      readonly kind: 'patch';
      readonly lba: number;
      readonly offsetInBlockBytes: number;
      /** The bytes to put there; null for zeros. */
      readonly bytes: Buffer | null;
      readonly lengthBytes: number;
    };

/** The blocks a command touches: half-open [firstLba, endLba). */
export function commandBlocks(command: BlockCommand, blockSizeBytes: number): [number, number] {
  switch (command.kind) {
    case 'write':
      return [command.lba, command.lba + command.data.length / blockSizeBytes];
    case 'write-same':
      return [command.lba, command.lba + command.blocks];
    case 'unmap': {
      const first = Math.min(...command.ranges.map((range) => range.lba));
      const end = Math.max(...command.ranges.map((range) => range.lba + range.blocks));
      return [first, end];
    }
    case 'patch':
      return [command.lba, command.lba + 1];
  }
}

/** Bytes of data a command carries (what it holds in memory until it completes). */
export function commandDataBytes(command: BlockCommand, blockSizeBytes: number): number {
  return command.kind === 'write'
    ? command.data.length
    : command.kind === 'patch'
      ? blockSizeBytes
      : 0;
}

function zeroCommands(firstLba: number, blocks: number, geometry: LunGeometry): BlockCommand[] {
  const unmap = geometry.writeSameUnmapSupported && geometry.readsZerosWhenUnmapped;
  const commands: BlockCommand[] = [];
  for (let done = 0; done < blocks;) {
    const count = Math.min(geometry.maxWriteSameBlocks, blocks - done);
    commands.push({ kind: 'write-same', lba: firstLba + done, blocks: count, unmap });
    done += count;
  }
  return commands;
}

function unmapCommands(firstLba: number, blocks: number, geometry: LunGeometry): BlockCommand[] {
  const commands: BlockCommand[] = [];
  let ranges: BlockRange[] = [];
  for (let done = 0; done < blocks;) {
    const count = Math.min(geometry.maxUnmapBlocks, blocks - done);
    ranges.push({ lba: firstLba + done, blocks: count });
    done += count;
    if (ranges.length === geometry.maxUnmapDescriptors) {
      commands.push({ kind: 'unmap', ranges });
      ranges = [];
    }
  }
  if (ranges.length > 0) commands.push({ kind: 'unmap', ranges });
  return commands;
}

function writeCommands(firstLba: number, data: Buffer, geometry: LunGeometry): BlockCommand[] {
  const commands: BlockCommand[] = [];
  const blockSizeBytes = geometry.blockSizeBytes;
  for (let at = 0; at < data.length; at += geometry.maxWriteBytes) {
    const piece = data.subarray(at, Math.min(data.length, at + geometry.maxWriteBytes));
    commands.push({ kind: 'write', lba: firstLba + at / blockSizeBytes, data: piece });
  }
  return commands;
}

/** The commands for `extent`, in order (head patch, whole blocks, tail patch). */
export function planExtent(extent: ApplyExtent, geometry: LunGeometry): BlockCommand[] {
  const blockSizeBytes = geometry.blockSizeBytes;
  const startBytes = extent.offsetBytes;
  const endBytes = startBytes + extent.lengthBytes;
  if (extent.lengthBytes === 0) return [];
  const bytesAt = (fromBytes: number, toBytes: number): Buffer | null =>
    extent.op === 'WRITE' && extent.data !== null
      ? extent.data.subarray(fromBytes - startBytes, toBytes - startBytes)
      : null;
  const patch = (fromBytes: number, toBytes: number): BlockCommand => {
    const lba = Math.floor(fromBytes / blockSizeBytes);
    return {
      kind: 'patch',
      lba,
      offsetInBlockBytes: fromBytes - lba * blockSizeBytes,
      bytes: bytesAt(fromBytes, toBytes),
      lengthBytes: toBytes - fromBytes,
    };
  };
  const alignedStart = Math.ceil(startBytes / blockSizeBytes) * blockSizeBytes;
  const alignedEnd = Math.floor(endBytes / blockSizeBytes) * blockSizeBytes;
  // Within one block, and not a whole one.
  if (alignedEnd <= alignedStart && !(startBytes === alignedStart && endBytes === alignedEnd)) {
    if (alignedStart > startBytes && alignedStart < endBytes)
      return [patch(startBytes, alignedStart), patch(alignedStart, endBytes)];
    return [patch(startBytes, endBytes)];
  }
  const commands: BlockCommand[] = [];
  if (startBytes < alignedStart) commands.push(patch(startBytes, alignedStart));
  const firstLba = alignedStart / blockSizeBytes;
  const blocks = (alignedEnd - alignedStart) / blockSizeBytes;
  if (blocks > 0) {
    if (extent.op === 'WRITE')
      commands.push(...writeCommands(firstLba, bytesAt(alignedStart, alignedEnd)!, geometry));
    else if (extent.op === 'DISCARD' && geometry.unmapSupported)
      commands.push(...unmapCommands(firstLba, blocks, geometry));
    else commands.push(...zeroCommands(firstLba, blocks, geometry));
  }
  if (alignedEnd < endBytes) commands.push(patch(alignedEnd, endBytes));
  return commands;
}
