/**
 * qemu-img (qemu-utils) for images not in use by a running QEMU: `info --output=json` for
 * the virtual size and the persistent dirty bitmaps of a qcow2 image, and `bitmap` to add,
 * remove, enable and merge them. qemu-img takes the image's lock for each command, so a
 * command fails clearly if a VM (or a qemu-nbd) has the image open.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describeError } from '../../errors/extentlog-error.js';
import { SourceError } from '../errors.js';
import type { BitmapState } from './bitmap-plan.js';

const run = promisify(execFile);

export interface ImageInfo {
  readonly format: string;
  readonly virtualSizeBytes: number;
  readonly bitmaps: readonly BitmapState[];
}

interface QemuImgInfo {
  format: string;
  'virtual-size': number;
  'format-specific'?: {
    type: string;
    data?: { bitmaps?: { name: string; granularity: number; flags: string[] }[] };
  };
}

async function qemuImg(args: readonly string[]): Promise<string> {
  try {
    const { stdout } = await run('qemu-img', [...args], { maxBuffer: 16 * 1024 * 1024 });
    return stdout;
  } catch (error) {
    const stderr = String((error as { stderr?: unknown }).stderr ?? '').trim();
    const locked = /lock/i.test(stderr);
    throw new SourceError(
      'EXTENTLOG_ERR_SOURCE_TOOL',
      `qemu-img ${args.join(' ')} failed: ${stderr || describeError(error)}${
        locked
          ? " — the image is in use: stop the VM (or use the source's qmpSocket mode for running VMs)"
          : (error as NodeJS.ErrnoException).code === 'ENOENT'
            ? ' — install qemu-utils'
            : ''
      }`,
      { cause: error, details: { command: 'qemu-img', args } },
    );
  }
}

/** Size, format and bitmaps; reads even while another process holds the image (-U). */
export async function imageInfo(image: string): Promise<ImageInfo> {
  const info = JSON.parse(await qemuImg(['info', '-U', '--output=json', image])) as QemuImgInfo;
  const bitmaps = info['format-specific']?.data?.bitmaps ?? [];
  return {
    format: info.format,
    virtualSizeBytes: info['virtual-size'],
    bitmaps: bitmaps.map((bitmap) => ({
      name: bitmap.name,
      granularityBytes: bitmap.granularity,
      // qemu-img's flags: 'auto' = enabled (recording), 'in-use' = not saved cleanly.
      recording: bitmap.flags.includes('auto'),
      inconsistent: bitmap.flags.includes('in-use'),
    })),
  };
}

export async function addBitmap(
  image: string,
  name: string,
  granularityBytes: number,
): Promise<void> {
  await qemuImg([
    'bitmap',
    '--add',
    '--granularity',
    String(granularityBytes),
    '-f',
    'qcow2',
    image,
    name,
  ]);
}

export async function removeBitmap(image: string, name: string): Promise<void> {
  await qemuImg(['bitmap', '--remove', '-f', 'qcow2', image, name]);
}

/** Merges `sources` into `target` and makes `target` record again. */
export async function mergeIntoBitmap(
  image: string,
  target: string,
  sources: readonly string[],
): Promise<void> {
  for (const source of sources)
    await qemuImg(['bitmap', '--merge', source, '-f', 'qcow2', image, target]);
  await qemuImg(['bitmap', '--enable', '-f', 'qcow2', image, target]);
}

/** An empty qcow2 file of `sizeBytes` (a fleecing target for a running VM's disk). */
export async function createQcow2(path: string, sizeBytes: number): Promise<void> {
  await qemuImg(['create', '-q', '-f', 'qcow2', path, String(sizeBytes)]);
}
