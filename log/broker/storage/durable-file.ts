/**
 * Crash-safe file updates on POSIX filesystems: a file is replaced by writing a temporary
 * sibling, fsyncing it, renaming it over the target (atomic) and fsyncing the directory so
 * the rename itself survives power loss. Readers see the old or the new content, never a mix.
 */
import { open, rename, rm, unlink } from 'node:fs/promises';
import path from 'node:path';

/** Suffix of temporary files; a file carrying it after a crash is garbage. */
export const TEMPORARY_SUFFIX = '.tmp';

export async function fsyncDirectory(directory: string): Promise<void> {
  const handle = await open(directory, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

export async function writeFileAtomic(filePath: string, data: Buffer | string): Promise<void> {
  const temporaryPath = `${filePath}${TEMPORARY_SUFFIX}`;
  const handle = await open(temporaryPath, 'w');
  try {
    await handle.writeFile(data);
    await handle.datasync();
  } finally {
    await handle.close();
  }
  await rename(temporaryPath, filePath);
  await fsyncDirectory(path.dirname(filePath));
}

/** Renames and makes the rename durable in both directories. */
export async function renameDurably(fromPath: string, toPath: string): Promise<void> {
  await rename(fromPath, toPath);
  await fsyncDirectory(path.dirname(toPath));
  if (path.dirname(fromPath) !== path.dirname(toPath)) await fsyncDirectory(path.dirname(fromPath));
}

/** Unlinks files (missing ones are fine) and makes the removal durable. */
export async function unlinkDurably(directory: string, names: readonly string[]): Promise<void> {
  for (const name of names) await unlink(path.join(directory, name)).catch(ignoreMissing);
  await fsyncDirectory(directory);
}

/** Removes a directory tree that is already out of the store's namespace. */
export async function removeTree(directory: string): Promise<void> {
  await rm(directory, { recursive: true, force: true });
}

export function ignoreMissing(error: unknown): void {
  if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
}
