/**
 * How a changed extent becomes records: WRITE ranges are cut at absolute multiples of
 * `maxRecordBytes` (so the same region of a disk always yields the same records, whatever
 * the extent boundaries), and each piece's all-zero block runs become ZERO records that carry
 * no data. Ranges are half-open [offsetBytes, offsetBytes + lengthBytes) in bytes.
 */

export interface ByteRange {
  readonly offsetBytes: number;
  readonly lengthBytes: number;
}

export interface RecordPiece extends ByteRange {
  readonly op: 'WRITE' | 'ZERO';
  /** The piece's bytes for WRITE (a view into the read buffer); null for ZERO. */
  readonly data: Buffer | null;
}

/** Cuts [offset, offset + length) at absolute multiples of `pieceBytes`. */
export function* cutAtMultiples(range: ByteRange, pieceBytes: number): Generator<ByteRange> {
  const end = range.offsetBytes + range.lengthBytes;
  let offsetBytes = range.offsetBytes;
  while (offsetBytes < end) {
    const boundary = (Math.floor(offsetBytes / pieceBytes) + 1) * pieceBytes;
    const pieceEnd = Math.min(boundary, end);
    yield { offsetBytes, lengthBytes: pieceEnd - offsetBytes };
    offsetBytes = pieceEnd;
  }
}

const zeroBlocks = new Map<number, Buffer>();

function zeroBlock(blockSizeBytes: number): Buffer {
  let block = zeroBlocks.get(blockSizeBytes);
  if (block === undefined) {
    block = Buffer.alloc(blockSizeBytes);
    zeroBlocks.set(blockSizeBytes, block);
  }
  return block;
}

export function isAllZero(data: Buffer): boolean {
  const block = zeroBlock(Math.min(data.length, 64 * 1024));
  for (let position = 0; position < data.length; position += block.length) {
    const length = Math.min(block.length, data.length - position);
    if (data.compare(block, 0, length, position, position + length) !== 0) return false;
  }
  return true;
}

/**
 * Splits the bytes read at `offsetBytes` into WRITE and ZERO pieces. Zero runs shorter
 * than `minZeroRunBytes` stay inside their WRITE piece (many tiny records cost more than the
 * zeros). Block boundaries are absolute (`offsetBytes` need not be block-aligned).
 */
export function splitZeroRuns(
  offsetBytes: number,
  data: Buffer,
  blockSizeBytes: number,
  minZeroRunBytes: number,
): RecordPiece[] {
  if (isAllZero(data)) return [{ offsetBytes, lengthBytes: data.length, op: 'ZERO', data: null }];
  const runs: { start: number; end: number; zero: boolean }[] = [];
  for (const block of cutAtMultiples({ offsetBytes, lengthBytes: data.length }, blockSizeBytes)) {
    const start = block.offsetBytes - offsetBytes;
    const end = start + block.lengthBytes;
    const zero = isAllZero(data.subarray(start, end));
    const last = runs[runs.length - 1];
    if (last !== undefined && last.zero === zero) last.end = end;
    else runs.push({ start, end, zero });
  }
  // Short zero runs fold into their neighbours.
  const merged: { start: number; end: number; zero: boolean }[] = [];
  for (const run of runs) {
    const zero = run.zero && run.end - run.start >= minZeroRunBytes;
    const last = merged[merged.length - 1];
    if (last !== undefined && last.zero === zero) last.end = run.end;
    else merged.push({ start: run.start, end: run.end, zero });
  }
  return merged.map(({ start, end, zero }) => ({
    offsetBytes: offsetBytes + start,
    lengthBytes: end - start,
    op: zero ? 'ZERO' : 'WRITE',
    data: zero ? null : data.subarray(start, end),
  }));
}
