/**
 * The data ranges of a sparse file, from lseek(2) SEEK_DATA / SEEK_HOLE: everything between
 * them reads as zeros. Filesystems report at their block granularity (or call the whole file
 * data, which is always correct); a block device has no holes to report.
 */
import { seekData, seekHole, type CallContext } from './index.js';

/** Half-open [startBytes, endBytes). */
export interface ByteRange {
  readonly startBytes: number;
  readonly endBytes: number;
}

/** The data ranges within [startBytes, endBytes), in order (needs the addon). */
export async function dataRanges(
  fd: number,
  startBytes: number,
  endBytes: number,
  context: CallContext = {},
): Promise<ByteRange[]> {
  const ranges: ByteRange[] = [];
  let cursor = startBytes;
  while (cursor < endBytes) {
    const dataBytes = await seekData(fd, cursor, context);
    if (dataBytes === -1 || dataBytes >= endBytes) break;
    const holeBytes = await seekHole(fd, dataBytes, context);
    // -1 here means the file shrank between the two calls: call the rest data, and the read
    // that follows reports the truncation.
    const dataEndBytes = holeBytes === -1 ? endBytes : Math.min(holeBytes, endBytes);
    ranges.push({ startBytes: dataBytes, endBytes: dataEndBytes });
    cursor = dataEndBytes;
  }
  return ranges;
}
