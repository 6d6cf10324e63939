/**
 * What a block device supports, read from sysfs (Documentation/ABI/stable/sysfs-block):
 * /sys/dev/block/<major>:<minor>/queue/{discard_max_bytes,write_zeroes_max_bytes,…}. A
 * partition has no queue/ of its own; its parent disk's applies. BLKDISCARDZEROES is gone
 * from current kernels, so whether a discard reads back as zeros is not knowable: only
 * BLKZEROOUT guarantees zeros (using WRITE ZEROES when write_zeroes_max_bytes > 0).
 */
import { readFile, realpath } from 'node:fs/promises';
import path from 'node:path';

export interface BlockDeviceQueue {
  /** 0 when the device does not support discard. */
  readonly discardMaxBytes: number;
  readonly discardGranularityBytes: number;
  /** 0 when the kernel emulates BLKZEROOUT by writing zero pages. */
  readonly writeZeroesMaxBytes: number;
  readonly logicalBlockBytes: number;
  readonly physicalBlockBytes: number;
}

/** Splits a Linux dev_t (as `fs.Stats.rdev`) into major and minor (include/linux/kdev_t.h new_decode_dev). */
export function deviceNumbers(rdev: number): { major: number; minor: number } {
  const value = BigInt(rdev);
  const major = Number(((value >> 8n) & 0xfffn) | ((value >> 32n) & ~0xfffn));
  const minor = Number((value & 0xffn) | ((value >> 12n) & ~0xffn));
  return { major, minor };
}

async function readQueueDir(queueDir: string): Promise<BlockDeviceQueue> {
  const read = async (name: string): Promise<number> => {
    const text = (await readFile(path.join(queueDir, name), 'utf8')).trim();
    const value = Number(text);
    if (!Number.isSafeInteger(value)) throw new Error(`${queueDir}/${name}: not a number: ${text}`);
    return value;
  };
  return {
    discardMaxBytes: await read('discard_max_bytes'),
    discardGranularityBytes: await read('discard_granularity'),
    writeZeroesMaxBytes: await read('write_zeroes_max_bytes'),
    logicalBlockBytes: await read('logical_block_size'),
    physicalBlockBytes: await read('physical_block_size'),
  };
}

/** The queue limits of the block device with device number `rdev` (`fs.Stats.rdev`). */
export async function readBlockDeviceQueue(
  rdev: number,
  sysfsRoot = '/sys',
): Promise<BlockDeviceQueue> {
  const { major, minor } = deviceNumbers(rdev);
  const deviceDir = path.join(sysfsRoot, 'dev', 'block', `${major}:${minor}`);
  try {
    return await readQueueDir(path.join(deviceDir, 'queue'));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    // deviceDir is a symlink into /sys/devices/…/<disk>/<partition>: resolve before going up.
    return readQueueDir(path.join(path.dirname(await realpath(deviceDir)), 'queue'));
  }
}
