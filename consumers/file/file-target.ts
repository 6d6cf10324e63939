/**
 * The file target: each disk replicated into a raw image file or onto a block device (a
 * loop device, an LVM volume, a disk). Image files are created sparse and sized to the
 * disk; block devices must be at least as large as the disk. Paths come from `pathFor`
 * (see `pathTemplate` for `/var/lib/extentlog/{feed}/{disk}.img`).
 *
 * A restore point's location is the path: the image (or device) holds the disk as of the
 * last committed epoch whenever the replay engine is between epochs. That is also the only
 * restore point it can hand back (`openRestorePoint`): older ones were overwritten, and
 * while a replay applies a newer epoch the image holds a mix of the two.
 */
import { constants } from 'node:fs';
import { mkdir, open, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import { describeError } from '../../errors/extentlog-error.js';
import * as fileio from '../../native/fileio/index.js';
import { TargetError } from '../errors.js';
import type { RestorePoint } from '../../schemas/restore-point.js';
import { OpenDisks } from '../open-disks.js';
import type { RestorePointReader, Target, TargetDisk, TargetDiskInfo } from '../target.js';
import { blockDeviceMedium, tooSmall } from './block-device-medium.js';
import { imageFileMedium, type Zeroing } from './image-file-medium.js';
import { openImageReader } from './image-reader.js';
import type { DiskName } from './path-template.js';
import { FileTargetDisk } from './target-disk.js';

export interface FileTargetOptions {
  readonly pathFor: (disk: DiskName) => string;
  /** Create missing image files (and their directories); false refuses a missing path. */
  readonly createFiles?: boolean;
  /**
   * How image files are zeroed: 'punch-hole' (needs the fileio addon; falls back to writing
   * zeros where the filesystem refuses) or 'write-zeros'. Block devices always need the addon.
   */
  readonly zeroing?: Zeroing;
  readonly logger: Logger;
}

export function createFileTarget(options: FileTargetOptions): Target {
  const { pathFor, logger } = options;
  const createFiles = options.createFiles ?? true;
  const zeroing = options.zeroing ?? 'punch-hole';
  if (zeroing !== 'punch-hole' && zeroing !== 'write-zeros')
    throw new TargetError(
      'EXTENTLOG_ERR_TARGET_CONFIG',
      `file target: zeroing must be 'punch-hole' or 'write-zeros', received ${String(zeroing)}`,
    );
  if (zeroing === 'punch-hole')
    fileio.assertAvailable("the file target's hole punching (or set zeroing: 'write-zeros')");
  const disks = new OpenDisks();

  async function openHandle(diskId: string, targetPath: string): Promise<FileHandle> {
    try {
      if (createFiles) await mkdir(path.dirname(targetPath), { recursive: true });
      return await open(
        targetPath,
        constants.O_RDWR | (createFiles ? constants.O_CREAT : 0),
        0o600,
      );
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT')
        throw new TargetError(
          'EXTENTLOG_ERR_TARGET_NOT_FOUND',
          `disk ${diskId}: target ${targetPath} does not exist and createFiles is false: create it or allow createFiles`,
          { cause: error, details: { diskId, path: targetPath } },
        );
      throw new TargetError(
        'EXTENTLOG_ERR_TARGET_OPEN',
        `disk ${diskId}: cannot open target ${targetPath}: ${describeError(error)}`,
        { cause: error, details: { diskId, path: targetPath } },
      );
    }
  }

  async function openDisk(disk: TargetDiskInfo): Promise<TargetDisk> {
    const targetPath = pathFor(disk);
    const handle = await openHandle(disk.diskId, targetPath);
    try {
      const stats = await handle.stat();
      let targetDisk: FileTargetDisk;
      if (stats.isBlockDevice()) {
        fileio.assertAvailable('block device targets');
        const deviceBytes = await fileio.blockDeviceSizeBytes(handle.fd, { path: targetPath });
        if (deviceBytes < disk.sizeBytes)
          throw tooSmall(disk.diskId, targetPath, disk.sizeBytes, deviceBytes);
        const medium = await blockDeviceMedium(
          handle,
          targetPath,
          disk.diskId,
          deviceBytes,
          logger,
        );
        targetDisk = new FileTargetDisk(
          handle,
          targetPath,
          disk.diskId,
          deviceBytes,
          medium,
          logger,
        );
      } else if (stats.isFile()) {
        if (stats.size < disk.sizeBytes) await handle.truncate(disk.sizeBytes);
        const medium = imageFileMedium(handle, targetPath, disk.diskId, zeroing, logger);
        const sizeBytes = Math.max(stats.size, disk.sizeBytes);
        targetDisk = new FileTargetDisk(handle, targetPath, disk.diskId, sizeBytes, medium, logger);
      } else {
        throw new TargetError(
          'EXTENTLOG_ERR_TARGET_OPEN',
          `disk ${disk.diskId}: target ${targetPath} is neither a regular file nor a block device`,
          { retriable: false, details: { diskId: disk.diskId, path: targetPath } },
        );
      }
      logger.debug({ diskId: disk.diskId, path: targetPath }, 'file target: disk opened');
      return disks.track(targetDisk);
    } catch (error) {
      await handle.close();
      if (error instanceof TargetError) throw error;
      throw new TargetError(
        'EXTENTLOG_ERR_TARGET_OPEN',
        `disk ${disk.diskId}: cannot prepare target ${targetPath}: ${describeError(error)}`,
        { cause: error, details: { diskId: disk.diskId, path: targetPath } },
      );
    }
  }

  async function openRestorePoint(
    point: RestorePoint,
    newest: RestorePoint,
  ): Promise<RestorePointReader> {
    const targetPath = pathFor({ feed: point.feed, diskId: point.disk });
    if (point.epoch !== newest.epoch)
      throw new TargetError(
        'EXTENTLOG_ERR_TARGET_POINT_UNAVAILABLE',
        `disk ${point.disk} of feed ${point.feed}: the file target ${point.target} holds only its latest restore point (epoch ${newest.epoch}) in ${targetPath}; epoch ${point.epoch} was overwritten by later epochs: ask for epoch ${newest.epoch}, or keep older restore points on a target that stores them`,
        {
          details: {
            diskId: point.disk,
            path: targetPath,
            epoch: point.epoch,
            latestEpoch: newest.epoch,
          },
        },
      );
    return openImageReader({
      path: targetPath,
      diskId: point.disk,
      sizeBytes: point.diskSizeBytes,
    });
  }

  return {
    kind: 'file',
    openDisk,
    openRestorePoint,
    close: () => disks.closeAll(),
  };
}
