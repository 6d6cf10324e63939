/**
 * Zeroing and sizing of a regular image file: ZERO and DISCARD punch a hole
 * (fallocate(2) FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE), so zeros cost no space; where the
 * filesystem refuses (EOPNOTSUPP), or when configured so, zeros are written instead.
 *
 * Size policy: an epoch on a larger disk grows the file (ftruncate; the new tail reads as
 * zeros, as a grown disk does). A smaller disk shrinks the file only for a FULL epoch, which
 * rewrites the whole disk anyway, so the image ends up the disk's exact size; an incremental
 * epoch on a smaller disk is refused, as the target would silently keep a stale tail.
 */
import type { FileHandle } from 'node:fs/promises';
import type { Logger } from 'pino';
import { errnoOf } from '../../native/errors.js';
import { writeZeros } from '../../native/fileio/fallbacks.js';
import * as fileio from '../../native/fileio/index.js';
import { TargetError } from '../errors.js';
import type { EpochBegin } from '../target.js';
import type { MediumOps } from './target-disk.js';

export type Zeroing = 'punch-hole' | 'write-zeros';

export function imageFileMedium(
  handle: FileHandle,
  path: string,
  diskId: string,
  zeroing: Zeroing,
  logger: Logger,
): MediumOps {
  let punch = zeroing === 'punch-hole';

  async function zero(offsetBytes: number, lengthBytes: number): Promise<void> {
    if (punch) {
      try {
        await fileio.fallocate(handle.fd, 'punch-hole', offsetBytes, lengthBytes, { path });
        return;
      } catch (error) {
        if (errnoOf(error) !== 'EOPNOTSUPP') throw error;
        punch = false;
        logger.warn(
          { path, diskId },
          'file target: the filesystem cannot punch holes; writing zeros instead (zeros take space)',
        );
      }
    }
    await writeZeros(handle.fd, offsetBytes, lengthBytes);
  }

  return {
    zero,
    discard: zero,
    async resize(begin: EpochBegin, currentSizeBytes: number): Promise<number> {
      const wantedBytes = begin.diskSizeBytes;
      if (wantedBytes === currentSizeBytes) return currentSizeBytes;
      if (wantedBytes < currentSizeBytes && begin.mode !== 'FULL')
        throw new TargetError(
          'EXTENTLOG_ERR_TARGET_SHRINK',
          `disk ${diskId}: epoch ${begin.epoch} (${begin.mode}) is for a disk of ${wantedBytes} bytes, but ${path} holds ${currentSizeBytes} bytes; only a FULL epoch may shrink the target`,
          {
            details: {
              diskId,
              path,
              diskSizeBytes: wantedBytes,
              targetSizeBytes: currentSizeBytes,
            },
          },
        );
      await handle.truncate(wantedBytes);
      return wantedBytes;
    },
  };
}
