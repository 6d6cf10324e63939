/**
 * Turns what `rbd_diff_iterate2` reports into the extents of a cycle. librbd reports byte
 * ranges in offset order, `exists` for data and `!exists` for ranges that were discarded or
 * zeroed (or, from the image's creation, never written); RBD diffs are not minimal (a new
 * object comes back whole). Alignment to the disk's block size goes through BlockAligner
 * (a block touched by data is read whole; only blocks zeroed whole become ZERO). A FULL
 * cycle covers the whole disk: the gaps between reported ranges read as zeros.
 * Ranges are half-open [offsetBytes, offsetBytes + lengthBytes).
 */
import { BlockAligner } from '../block-aligner.js';
import type { ChangedExtent } from '../source.js';

export interface DiffRange {
  readonly offsetBytes: number;
  readonly lengthBytes: number;
  readonly exists: boolean;
}

/** Sorted, disjoint, coalesced extents; with `coverWholeDisk`, [0, diskSizeBytes) exactly. */
export function planExtents(
  ranges: Iterable<DiffRange>,
  diskSizeBytes: number,
  blockSizeBytes: number,
  coverWholeDisk: boolean,
  extra: Pick<ChangedExtent, 'issuedAtNs' | 'completedAtNs' | 'provenance'> = {},
): ChangedExtent[] {
  const aligner = new BlockAligner(blockSizeBytes, diskSizeBytes, extra);
  let coveredBytes = 0;
  for (const range of ranges) {
    const startBytes = Math.max(range.offsetBytes, coveredBytes);
    const endBytes = Math.min(range.offsetBytes + range.lengthBytes, diskSizeBytes);
    if (endBytes <= startBytes) continue;
    if (coverWholeDisk && startBytes > coveredBytes) aligner.add('ZERO', coveredBytes, startBytes);
    coveredBytes = endBytes;
    aligner.add(range.exists ? 'WRITE' : 'ZERO', startBytes, endBytes);
  }
  if (coverWholeDisk && coveredBytes < diskSizeBytes)
    aligner.add('ZERO', coveredBytes, diskSizeBytes);
  return aligner.finish();
}
