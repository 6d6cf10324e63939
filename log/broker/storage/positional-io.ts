/**
 * Whole positional reads and writes (pread/pwrite through libuv): a regular file may
 * return short counts, so both loop until the range is done or the file ends.
 */
import type { FileHandle } from 'node:fs/promises';

export async function writeFully(
  handle: FileHandle,
  bytes: Buffer,
  positionBytes: number,
): Promise<void> {
  let written = 0;
  while (written < bytes.length) {
    const { bytesWritten } = await handle.write(
      bytes,
      written,
      bytes.length - written,
      positionBytes + written,
    );
    written += bytesWritten;
  }
}

/** Fills `target[0, lengthBytes)` from `positionBytes`; returns how many bytes the file had. */
export async function readFully(
  handle: FileHandle,
  target: Buffer,
  lengthBytes: number,
  positionBytes: number,
): Promise<number> {
  let filled = 0;
  while (filled < lengthBytes) {
    const { bytesRead } = await handle.read(
      target,
      filled,
      lengthBytes - filled,
      positionBytes + filled,
    );
    if (bytesRead === 0) break;
    filled += bytesRead;
  }
  return filled;
}
