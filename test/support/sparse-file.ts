/** Sparse files for block-device peers, and how much of them is allocated. */
import { open, stat } from 'node:fs/promises';

/** Creates (or truncates) `filePath` as a sparse file of `sizeBytes`. */
export async function createSparseFile(filePath: string, sizeBytes: number): Promise<void> {
  const handle = await open(filePath, 'w');
  try {
    await handle.truncate(sizeBytes);
  } finally {
    await handle.close();
  }
}

/** Bytes the filesystem allocated for `filePath` (st_blocks × 512). */
export async function allocatedBytes(filePath: string): Promise<number> {
  return (await stat(filePath)).blocks * 512;
}

/** Whether [offsetBytes, offsetBytes + lengthBytes) of `filePath` is one hole (SEEK_DATA). */
export async function isHole(
  filePath: string,
  offsetBytes: number,
  lengthBytes: number,
): Promise<boolean> {
  const { seekData } = await import('../../native/fileio/index.js');
  const handle = await open(filePath, 'r');
  try {
    const data = await seekData(handle.fd, offsetBytes);
    return data === -1 || data >= offsetBytes + lengthBytes;
  } finally {
    await handle.close();
  }
}
