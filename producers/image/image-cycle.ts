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
 * read once: the window stays in memory (with the one before it) and `reader.read` serves
 * the feed from it; only a read the windows no longer hold goes to the file. Memory is a
 * couple of windows and their digests, whatever the disk's size.
 *
 * Invariants: WRITE extents never span a window (so the reader always finds them in one
 * buffer); ZERO runs coalesce across windows; extents are block-aligned except at the disk's
 * end. The new hash file is complete (and durable) when `changes()` finishes.
 */
import type { Logger } from 'pino';
import type { BlockReader, ChangedExtent, ChangeSet, DiskInfo, ExtentOp } from '../source.js';
import { describeError } from '../../errors/extentlog-error.js';
import { SourceError } from '../errors.js';
import { DIGEST_BYTES, type BlockHasher } from './block-hasher.js';
import type { ByteRange, DiskFile } from './disk-file.js';
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

interface Window {
  readonly startBytes: number;
  readonly buffer: Buffer;
}

interface Run {
  readonly op: ExtentOp;
  readonly startBytes: number;
  endBytes: number;
}

/** Windows kept for the reader: the current one and the one before it. */
const CACHED_WINDOWS = 2;

type CycleState = 'open' | 'scanning' | 'scanned' | 'committed' | 'aborted';

export function createImageCycle(options: ImageCycleOptions): ChangeSet {
  const { disk, file, hasher, base, next, windowBytes } = options;
  const blockSizeBytes = disk.blockSizeBytes;
  const cache: Window[] = [];
  let state: CycleState = 'open';

  function extent(run: Run): ChangedExtent {
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

  /** Reads the window's data; holes are zero-filled. Null when the window is all hole. */
  async function readWindow(
    startBytes: number,
    endBytes: number,
    data: readonly ByteRange[],
  ): Promise<Buffer | null> {
    if (data.length === 0) return null;
    const buffer = Buffer.allocUnsafeSlow(endBytes - startBytes);
    let cursor = startBytes;
    for (const range of data) {
      buffer.fill(0, cursor - startBytes, range.startBytes - startBytes);
      await file.readExact(
        range.startBytes,
        buffer.subarray(range.startBytes - startBytes, range.endBytes - startBytes),
      );
      cursor = range.endBytes;
    }
    buffer.fill(0, cursor - startBytes);
    return buffer;
  }

  async function* scan(): AsyncGenerator<ChangedExtent> {
    let run = null as Run | null;
    for (let startBytes = 0; startBytes < disk.sizeBytes; startBytes += windowBytes) {
      const endBytes = Math.min(disk.sizeBytes, startBytes + windowBytes);
      const firstBlock = startBytes / blockSizeBytes;
      const blocks = Math.ceil((endBytes - startBytes) / blockSizeBytes);
      const data = await alignedDataRanges(startBytes, endBytes);
      const window = await readWindow(startBytes, endBytes, data);
      await file.checkSize(startBytes);
      const digests = window
        ? await hasher.hashWindow(window)
        : Buffer.alloc(blocks * DIGEST_BYTES);
      const previous = base
        ? await hashFileOperation(options.paths.current, () => base.readDigests(firstBlock, blocks))
        : null;
      await hashFileOperation(options.paths.next, () => next.writeDigests(firstBlock, digests));
      if (window) {
        cache.push({ startBytes, buffer: window });
        if (cache.length > CACHED_WINDOWS) cache.shift();
      }

      const ready: Run[] = [];
      if (previous !== null && previous.equals(digests)) {
        if (run) ready.push(run);
        run = null;
      } else if (previous === null && window === null) {
        // FULL over a hole: one ZERO run, however many windows it spans.
        if (run?.op === 'ZERO' && run.endBytes === startBytes) run.endBytes = endBytes;
        else {
          if (run) ready.push(run);
          run = { op: 'ZERO', startBytes, endBytes };
        }
      } else {
        const isData = new Uint8Array(blocks);
        for (const range of data)
          isData.fill(
            1,
            (range.startBytes - startBytes) / blockSizeBytes,
            Math.ceil((range.endBytes - startBytes) / blockSizeBytes),
          );
        for (let block = 0; block < blocks; block++) {
          const at = block * DIGEST_BYTES;
          const changed =
            previous === null ||
            digests.compare(previous, at, at + DIGEST_BYTES, at, at + DIGEST_BYTES) !== 0;
          const blockStartBytes = startBytes + block * blockSizeBytes;
          if (!changed) {
            if (run) ready.push(run);
            run = null;
            continue;
          }
          const op: ExtentOp = isData[block] === 1 ? 'WRITE' : 'ZERO';
          const blockEndBytes = Math.min(endBytes, blockStartBytes + blockSizeBytes);
          if (run?.op === op && run.endBytes === blockStartBytes) run.endBytes = blockEndBytes;
          else {
            if (run) ready.push(run);
            run = { op, startBytes: blockStartBytes, endBytes: blockEndBytes };
          }
        }
      }
      // WRITE runs end with their window so the reader finds them in one buffer.
      if (run?.op === 'WRITE') {
        ready.push(run);
        run = null;
      }
      for (const done of ready) yield extent(done);
    }
    if (run) yield extent(run);
    await hashFileOperation(options.paths.next, () => next.finish());
  }

  /** Runs a hash-file operation, reporting its failure as a state error. */
  async function hashFileOperation<T>(filePath: string, operation: () => Promise<T>): Promise<T> {
    try {
      return await operation();
    } catch (error) {
      throw new SourceError(
        'EXTENTLOG_ERR_SOURCE_STATE',
        `disk ${disk.diskId}: hash file ${filePath}: ${describeError(error)}`,
        { cause: error, details: { diskId: disk.diskId, path: filePath } },
      );
    }
  }

  async function* changes(): AsyncGenerator<ChangedExtent> {
    if (state !== 'open')
      throw new SourceError(
        'EXTENTLOG_ERR_SOURCE_CYCLE',
        `disk ${disk.diskId}: changes() of cycle ${options.reference} can be iterated once (the cycle is ${state})`,
      );
    state = 'scanning';
    yield* scan();
    if (state === 'scanning') state = 'scanned';
  }

  const reader: BlockReader = {
    async read(offsetBytes, lengthBytes) {
      if (
        !Number.isSafeInteger(offsetBytes) ||
        !Number.isSafeInteger(lengthBytes) ||
        offsetBytes < 0 ||
        lengthBytes < 0 ||
        offsetBytes + lengthBytes > disk.sizeBytes
      )
        throw new SourceError(
          'EXTENTLOG_ERR_SOURCE_OUT_OF_RANGE',
          `disk ${disk.diskId}: read of ${lengthBytes} bytes at offset ${offsetBytes} is outside the disk's ${disk.sizeBytes} bytes`,
          { details: { diskId: disk.diskId, offsetBytes, lengthBytes } },
        );
      for (const window of cache) {
        const from = offsetBytes - window.startBytes;
        if (from >= 0 && from + lengthBytes <= window.buffer.length)
          return window.buffer.subarray(from, from + lengthBytes);
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
    mode: options.mode,
    reference: options.reference,
    baseReference: options.baseReference,
    ...(options.rebaselineReason === undefined
      ? {}
      : { rebaselineReason: options.rebaselineReason }),
    changes,
    reader,
    async commit() {
      if (state !== 'scanned')
        throw new SourceError(
          'EXTENTLOG_ERR_SOURCE_CYCLE',
          `disk ${disk.diskId}: cycle ${options.reference} cannot commit: its changes were not read to the end (the cycle is ${state})`,
        );
      state = 'committed';
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
      if (state === 'committed' || state === 'aborted') return;
      state = 'aborted';
      await release();
      await removeNext(options.paths);
      options.logger.info(
        { diskId: disk.diskId, reference: options.reference, reason: String(reason) },
        'image source cycle aborted; the previous hash file stays current',
      );
    },
  };
}
