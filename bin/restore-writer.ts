/**
 * Writes a disk read from a restore point to an image file or a block device, through the
 * file target — a restore is the replay of one FULL epoch that holds the whole disk.
 *
 * An image file is written from empty: sized with ftruncate, then only its data is written —
 * zero runs of 64 KiB or more (in 4 KiB blocks) are skipped, so holes and zeros stay holes,
 * even from a target that cannot report its holes. A block device keeps whatever it held, so
 * every zero run is zeroed on it (BLKZEROOUT). The bytes are hashed as they are read: the
 * digest of what the restore point held while it was copied.
 */
import { createHash } from 'node:crypto';
import { mkdir, open } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import { createFileTarget } from '../consumers/file/file-target.js';
import type { RestorePointReader } from '../consumers/target.js';
import * as fileio from '../native/fileio/index.js';
import type { RestorePoint } from '../schemas/restore-point.js';
import { splitZeroRuns } from '../producers/record-pieces.js';
import { diskChunks } from './disk-chunks.js';
import { updateWithZeros } from './image-sha256.js';

/** Zeros are found block by block, and skipped from this long on. */
const ZERO_BLOCK_BYTES = 4096;
const MIN_ZERO_RUN_BYTES = 64 * 1024;

export interface RestoreOutcome {
  /** sha256 of the bytes read from the restore point. */
  readonly sha256: string;
  readonly writtenBytes: number;
  readonly zeroBytes: number;
}

export async function writeRestore(options: {
  readonly point: RestorePoint;
  readonly reader: RestorePointReader;
  readonly outputPath: string;
  readonly isBlockDevice: boolean;
  readonly logger: Logger;
  readonly onProgress?: (doneBytes: number) => void;
}): Promise<RestoreOutcome> {
  const { point, reader, outputPath, isBlockDevice, logger } = options;
  // A fresh, empty image: every byte not written below stays a hole.
  if (!isBlockDevice) {
    await mkdir(path.dirname(outputPath), { recursive: true });
    await (await open(outputPath, 'w', 0o600)).close();
  }
  const target = createFileTarget({
    pathFor: () => outputPath,
    createFiles: !isBlockDevice,
    zeroing: fileio.isAvailable() ? 'punch-hole' : 'write-zeros',
    logger,
  });
  const hash = createHash('sha256');
  let writtenBytes = 0;
  let zeroBytes = 0;
  try {
    const disk = await target.openDisk({
      feed: point.feed,
      diskId: point.disk,
      sizeBytes: reader.sizeBytes,
      blockSizeBytes: 512,
    });
    try {
      await disk.beginEpoch({
        epoch: point.epoch,
        mode: 'FULL',
        diskSizeBytes: reader.sizeBytes,
        baseEpoch: null,
        sourceReference: point.sourceReference,
      });
      for await (const chunk of diskChunks(reader)) {
        const offsetBytes = chunk.offsetBytes;
        const lengthBytes = chunk.kind === 'data' ? chunk.data.length : chunk.lengthBytes;
        if (chunk.kind === 'data') hash.update(chunk.data);
        else updateWithZeros(hash, chunk.lengthBytes);
        const pieces =
          chunk.kind === 'data'
            ? splitZeroRuns(offsetBytes, chunk.data, ZERO_BLOCK_BYTES, MIN_ZERO_RUN_BYTES)
            : [{ offsetBytes, lengthBytes, op: 'ZERO', data: null } as const];
        for (const piece of pieces) {
          if (piece.op === 'WRITE') {
            await disk.apply(piece);
            writtenBytes += piece.lengthBytes;
          } else {
            if (isBlockDevice) await disk.apply(piece);
            zeroBytes += piece.lengthBytes;
          }
        }
        options.onProgress?.(offsetBytes + lengthBytes);
      }
      await disk.flush();
    } finally {
      await disk.close();
    }
  } finally {
    await target.close();
  }
  return { sha256: hash.digest('hex'), writtenBytes, zeroBytes };
}
