/**
 * Restores a manifest to an image file or a block device: present chunks are fetched in
 * parallel (each checked against its content address) and written in slot order; absent
 * slots become holes in an image file (it is truncated and sized first) and are written
 * as zeros on a block device, whose old contents would otherwise show through. The sha256
 * of the whole restored disk is computed on the way, as `sha256sum` would print it.
 * Memory: `concurrency` chunks.
 */
import { createHash, type Hash } from 'node:crypto';
import { open, stat, type FileHandle } from 'node:fs/promises';
import { describeError } from '../../errors/extentlog-error.js';
import * as fileio from '../../native/fileio/index.js';
import { TargetError } from '../errors.js';
import type { ChunkStore } from './chunk-store.js';
import type { Manifest } from './manifest.js';
import { checkManifestKey } from './manifest-index.js';

export interface RestoreProgress {
  readonly doneBytes: number;
  readonly sizeBytes: number;
}

export interface RestoreResult {
  readonly sizeBytes: number;
  readonly chunksRead: number;
  readonly bytesRead: number;
  readonly sha256: string;
}

export interface RestoreOptions {
  readonly chunks: ChunkStore;
  readonly manifest: Manifest;
  /** The manifest's key, for messages. */
  readonly where: string;
  /** Where to write; null only hashes (verification). */
  readonly outputPath: string | null;
  readonly concurrency?: number;
  readonly onProgress?: (progress: RestoreProgress) => void;
}

const ZEROS = Buffer.alloc(4 * 1024 * 1024);

function hashZeros(hash: Hash, lengthBytes: number): void {
  for (let left = lengthBytes; left > 0; left -= ZEROS.length)
    hash.update(ZEROS.subarray(0, Math.min(left, ZEROS.length)));
}

async function openOutput(
  path: string,
  sizeBytes: number,
): Promise<{ handle: FileHandle; device: boolean }> {
  const fail = (problem: string, cause?: unknown) =>
    new TargetError('EXTENTLOG_ERR_TARGET_OPEN', `restore output ${path}: ${problem}`, {
      ...(cause === undefined ? {} : { cause }),
      details: { path },
    });
  let handle: FileHandle;
  try {
    const existing = await stat(path).catch(() => null);
    handle = await open(path, existing?.isBlockDevice() ? 'r+' : 'w');
  } catch (error) {
    throw fail(describeError(error), error);
  }
  const stats = await handle.stat();
  if (stats.isBlockDevice()) {
    fileio.assertAvailable(`restoring onto block device ${path}`);
    const deviceBytes = await fileio.blockDeviceSizeBytes(handle.fd, { path });
    if (deviceBytes < sizeBytes) {
      await handle.close();
      throw new TargetError(
        'EXTENTLOG_ERR_TARGET_TOO_SMALL',
        `restore output ${path} holds ${deviceBytes} bytes, the disk ${sizeBytes}: use a larger device`,
        { details: { path, deviceBytes, sizeBytes } },
      );
    }
    return { handle, device: true };
  }
  await handle.truncate(sizeBytes);
  return { handle, device: false };
}

export async function restoreImage(options: RestoreOptions): Promise<RestoreResult> {
  const { chunks, manifest, where } = options;
  checkManifestKey(manifest, chunks.codec, where);
  const concurrency = options.concurrency ?? 16;
  const size = manifest.chunkSizeBytes;
  const sizeBytes = manifest.diskSizeBytes;
  const output =
    options.outputPath === null ? null : await openOutput(options.outputPath, sizeBytes);
  const hash = createHash('sha256');
  const window: { slot: number; data: Promise<Buffer | null> }[] = [];
  let next = 0;
  let chunksRead = 0;
  let bytesRead = 0;
  const startRead = (slot: number) => {
    const name = manifest.chunks.get(slot);
    const lengthBytes = Math.min(size, sizeBytes - slot * size);
    const data =
      name === null
        ? Promise.resolve(null)
        : chunks.read(name, lengthBytes, `${where}, slot ${slot}`);
    data.catch(() => undefined);
    window.push({ slot, data });
  };
  try {
    while (next < manifest.chunks.slotCount || window.length > 0) {
      while (window.length < concurrency && next < manifest.chunks.slotCount) startRead(next++);
      const { slot, data } = window.shift()!;
      const content = await data;
      const offsetBytes = slot * size;
      const lengthBytes = Math.min(size, sizeBytes - offsetBytes);
      if (content === null) {
        hashZeros(hash, lengthBytes);
        if (output?.device)
          for (let done = 0; done < lengthBytes; done += ZEROS.length)
            await output.handle.write(
              ZEROS,
              0,
              Math.min(ZEROS.length, lengthBytes - done),
              offsetBytes + done,
            );
      } else {
        hash.update(content);
        chunksRead++;
        bytesRead += content.length;
        if (output !== null) await output.handle.write(content, 0, content.length, offsetBytes);
      }
      options.onProgress?.({ doneBytes: offsetBytes + lengthBytes, sizeBytes });
    }
    if (output !== null) await output.handle.datasync();
  } finally {
    await Promise.allSettled(window.map((entry) => entry.data));
    await output?.handle.close();
  }
  return { sizeBytes, chunksRead, bytesRead, sha256: hash.digest('hex') };
}
