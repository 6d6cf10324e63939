/**
 * qemu-img and qemu-io (qemu-utils) for tests: create images, write into them the way a
 * guest would, and convert them to raw to compare content (sha256) with a replica.
 */
import { execFile } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { promisify } from 'node:util';
import { sha256OfFile } from './image-files.js';

const run = promisify(execFile);

export async function qemuImg(...args: string[]): Promise<string> {
  const { stdout } = await run('qemu-img', args, { maxBuffer: 64 * 1024 * 1024 });
  return stdout;
}

/**
 * Runs qemu-io commands (`write -P 0x41 0 64k`, `write -z 1M 64k`, `discard …`) on an image;
 * `target` may be a file (with `format`) or an NBD URL (nbd+unix:///export?socket=…).
 */
export async function qemuIo(
  target: string,
  commands: readonly string[],
  format = 'qcow2',
): Promise<void> {
  const args = commands.flatMap((command) => ['-c', command]);
  const { stdout } = await run('qemu-io', ['-f', format, ...args, target]);
  if (/error|failed/i.test(stdout)) throw new Error(`qemu-io ${commands.join('; ')}: ${stdout}`);
}

/** The image's content as a raw file (`qemu-img convert -O raw`). */
export async function convertToRaw(
  image: string,
  rawPath: string,
  format = 'qcow2',
): Promise<void> {
  await rm(rawPath, { force: true });
  await qemuImg('convert', '-U', '-f', format, '-O', 'raw', image, rawPath);
}

/** sha256 of the image's content, through a raw conversion next to `scratchPath`. */
export async function imageSha256(
  image: string,
  scratchPath: string,
  format = 'qcow2',
): Promise<string> {
  await convertToRaw(image, scratchPath, format);
  try {
    return await sha256OfFile(scratchPath);
  } finally {
    await rm(scratchPath, { force: true });
  }
}

export interface ImageBitmap {
  readonly name: string;
  readonly granularity: number;
  readonly flags: readonly string[];
}

/** The persistent bitmaps of a qcow2 image (`qemu-img info`). */
export async function imageBitmaps(image: string): Promise<ImageBitmap[]> {
  const info = JSON.parse(await qemuImg('info', '-U', '--output=json', image)) as {
    'format-specific'?: { data?: { bitmaps?: ImageBitmap[] } };
  };
  return info['format-specific']?.data?.bitmaps ?? [];
}
