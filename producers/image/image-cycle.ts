/**
 * One cycle of the image source: a sequential scan of the disk in windows.
 *
 *   for each window [start, start + windowBytes):
 *     map data/holes (SEEK_DATA/SEEK_HOLE) → read the data → hash every block
 *     → compare with the previous cycle's digests (INCREMENTAL) → write the new digests
 *     → yield changed runs: WRITE for data blocks, ZERO for hole blocks
 *
 * A FULL cycle has nothing to compare with, so every block is changed: data ranges become
 * WRITE extents and holes ZERO extents, covering the whole disk. Either way each byte is
 * read once: the window's data stays in memory (with the window before it) and
 * `reader.read` serves the feed from it; only a read the windows no longer hold goes to the
 * file. Memory is a couple of windows and their digests, whatever the disk's size; holes
 * are neither read nor hashed (their digest is all-zero).
 *
 * Invariants: a WRITE extent lies within one data range of one window (so the reader finds
 * it in one buffer); ZERO runs coalesce across windows; extents are block-aligned except at the disk's
 * end. The new hash file is complete (and durable) when `changes()` finishes.
 */
import type { Logger } from 'pino';
import {
  cycleBasis,
  type BlockReader,
  type ChangedExtent,
  type ChangeSet,
  type DiskInfo,
} from '../source.js';
import { describeError } from '../../errors/extentlog-error.js';
import { CycleLifecycle, readOutOfRange } from '../cycle-lifecycle.js';
import { SourceError } from '../errors.js';
import { DIGEST_BYTES, type BlockHasher } from './block-hasher.js';
import type { ByteRange, DiskFile } from './disk-file.js';
import { ExtentRuns, type Run } from './extent-runs.js';
import { stateOperation } from './state-operation.js';
import {
  promote,
  removeNext,
  type HashFilePaths,
  type HashFileReader,
  type HashFileWriter,
} from './hash-file.js';

export interface ImageCycleOptions {
  readonly disk: DiskInfo;
  readonly file: DiskFile;
  readonly mode: 'FULL' | 'INCREMENTAL';
  readonly reference: string;
  readonly baseReference: string | null;
  readonly rebaselineReason?: string;
  readonly hasher: BlockHasher;
  /** The previous cycle's digests; null for FULL. */
  readonly base: HashFileReader | null;
  readonly next: HashFileWriter;
  readonly paths: HashFilePaths;
  readonly windowBytes: number;
  readonly openedAtNs: bigint;
  readonly logger: Logger;
  /** Called once the cycle is committed or aborted. */
  readonly onSettled: () => void;
}

/** A data range of a window, read into memory. */
interface Segment {
  readonly startBytes: number;
  readonly buffer: Buffer;
}

/** Windows kept for the reader: the current one and the one before it. */
const CACHED_WINDOWS = 2;

export function createImageCycle(options: ImageCycleOptions): ChangeSet {
  const { disk, file, hasher, base, next, windowBytes } = options;
  const blockSizeBytes = disk.blockSizeBytes;
  /** The data segments of the last windows, oldest first, one array per window. */
  const cache: Segment[][] = [];
  const lifecycle = new CycleLifecycle(disk.diskId, options.reference);

  function extent(run: Readonly<Run>): ChangedExtent {
    return {
      kind: 'extent',
      offsetBytes: run.startBytes,
      lengthBytes: run.endBytes - run.startBytes,
      op: run.op,
      issuedAtNs: options.openedAtNs,
      completedAtNs: options.openedAtNs,
    };
  }

  /** Data ranges widened to whole blocks (a block with any data is data), merged. */
  async function alignedDataRanges(startBytes: number, endBytes: number): Promise<ByteRange[]> {
    const aligned: { startBytes: number; endBytes: number }[] = [];
    for (const range of await file.dataRanges(startBytes, endBytes)) {
      const alignedStart = Math.floor(range.startBytes / blockSizeBytes) * blockSizeBytes;
      const alignedEnd = Math.min(
        endBytes,
        Math.ceil(range.endBytes / blockSizeBytes) * blockSizeBytes,
      );
      const last = aligned.at(-1);
      if (last !== undefined && alignedStart <= last.endBytes)
        last.endBytes = Math.max(last.endBytes, alignedEnd);
      else aligned.push({ startBytes: alignedStart, endBytes: alignedEnd });
    }
    return aligned;
  }

  /** Reads the data ranges of a window, each into a buffer of its own. */
  async function readSegments(data: readonly ByteRange[]): Promise<Segment[]> {
    const segments: Segment[] = [];
    for (const range of data) {
      const buffer = Buffer.allocUnsafeSlow(range.endBytes - range.startBytes);
      segments.push({
        startBytes: range.startBytes,
        buffer: await file.readExact(range.startBytes, buffer),
      });
    }
    return segments;
  }

  /** Digests of the window's blocks: hashed for data, all-zero for holes. */
  async function windowDigests(startBytes: number, blocks: number, segments: readonly Segment[]) {
    const digests = Buffer.alloc(blocks * DIGEST_BYTES);
    for (const segment of segments)
      (await hasher.hashWindow(segment.buffer)).copy(
        digests,
        ((segment.startBytes - startBytes) / blockSizeBytes) * DIGEST_BYTES,
      );
    return digests;
  }

  /** FULL: every block changed — data ranges are WRITE, the gaps between them ZERO. */
  function addWholeWindow(
    runs: ExtentRuns,
    startBytes: number,
    endBytes: number,
    data: readonly ByteRange[],
  ) {
    let cursor = startBytes;
    for (const range of data) {
      runs.add('ZERO', cursor, range.startBytes);
      runs.add('WRITE', range.startBytes, range.endBytes);
      cursor = range.endBytes;
    }
    runs.add('ZERO', cursor, endBytes);
  }

  /** INCREMENTAL: the blocks whose digest differs from the previous cycle's. */
  function addChangedBlocks(
    runs: ExtentRuns,
    startBytes: number,
    endBytes: number,
    data: readonly ByteRange[],
    digests: Buffer,
    previous: Buffer,
  ) {
    if (previous.equals(digests)) return runs.end();
    const blocks = digests.length / DIGEST_BYTES;
    const isData = new Uint8Array(blocks);
    for (const range of data)
      isData.fill(
        1,
        (range.startBytes - startBytes) / blockSizeBytes,
        Math.ceil((range.endBytes - startBytes) / blockSizeBytes),
      );
    for (let block = 0; block < blocks; block++) {
      const at = block * DIGEST_BYTES;
      if (digests.compare(previous, at, at + DIGEST_BYTES, at, at + DIGEST_BYTES) === 0) {
        runs.end();
        continue;
      }
      const blockStartBytes = startBytes + block * blockSizeBytes;
      runs.add(
        isData[block] === 1 ? 'WRITE' : 'ZERO',
        blockStartBytes,
        Math.min(endBytes, blockStartBytes + blockSizeBytes),
      );
    }
  }

  async function* scan(): AsyncGenerator<ChangedExtent> {
    const runs = new ExtentRuns();
    for (let startBytes = 0; startBytes < disk.sizeBytes; startBytes += windowBytes) {
      const endBytes = Math.min(disk.sizeBytes, startBytes + windowBytes);
      const firstBlock = startBytes / blockSizeBytes;
      const blocks = Math.ceil((endBytes - startBytes) / blockSizeBytes);
      const data = await alignedDataRanges(startBytes, endBytes);
      const segments = await readSegments(data);
      await file.checkSize(startBytes);
      const digests = await windowDigests(startBytes, blocks, segments);
      const previous = base
        ? await stateOperation(disk.diskId, options.paths.current, () =>
            base.readDigests(firstBlock, blocks),
          )
        : null;
      await stateOperation(disk.diskId, options.paths.next, () =>
        next.writeDigests(firstBlock, digests),
      );
      cache.push(segments);
      if (cache.length > CACHED_WINDOWS) cache.shift();

      if (previous === null) addWholeWindow(runs, startBytes, endBytes, data);
      else addChangedBlocks(runs, startBytes, endBytes, data, digests, previous);
      runs.endWrite();
      for (const run of runs.take()) yield extent(run);
    }
    runs.end();
    for (const run of runs.take()) yield extent(run);
    await stateOperation(disk.diskId, options.paths.next, () => next.finish());
  }

  const changes = () => lifecycle.scan(scan);

  const reader: BlockReader = {
    async read(offsetBytes, lengthBytes) {
      const outside = readOutOfRange(disk, offsetBytes, lengthBytes);
      if (outside !== null) throw outside;
      for (const segments of cache)
        for (const segment of segments) {
          const from = offsetBytes - segment.startBytes;
          if (from >= 0 && from + lengthBytes <= segment.buffer.length)
            return segment.buffer.subarray(from, from + lengthBytes);
        }
      return file.readExact(offsetBytes, Buffer.allocUnsafe(lengthBytes));
    },
  };

  async function release(): Promise<void> {
    cache.length = 0;
    const results = await Promise.allSettled([file.close(), next.close(), base?.close()]);
    for (const result of results)
      if (result.status === 'rejected')
        options.logger.warn(
          { err: result.reason, diskId: disk.diskId },
          'closing a file of the cycle failed',
        );
    options.onSettled();
  }

  return {
    disk,
    ...cycleBasis(options.mode, options),
    changes,
    reader,
    async commit() {
      lifecycle.beginCommit();
      await release();
      try {
        await promote(options.paths);
      } catch (error) {
        throw new SourceError(
          'EXTENTLOG_ERR_SOURCE_STATE',
          `disk ${disk.diskId}: cannot rename ${options.paths.next} over ${options.paths.current}: ${describeError(error)}; the next cycle recovers it or re-baselines`,
          { cause: error, details: { diskId: disk.diskId, path: options.paths.next } },
        );
      }
      options.logger.debug(
        { diskId: disk.diskId, reference: options.reference },
        'image source cycle committed',
      );
    },
    async abort(reason) {
      if (!lifecycle.beginAbort()) return;
      await release();
      await removeNext(options.paths);
      options.logger.info(
        { diskId: disk.diskId, reference: options.reference, reason: String(reason) },
        'image source cycle aborted; the previous hash file stays current',
      );
    },
  };
}
