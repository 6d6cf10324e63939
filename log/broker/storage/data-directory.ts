/**
 * Ownership and shutdown state of a store's data directory. One store per directory: a
 * second open in this process is refused, and `store.lock` names the process holding it
 * (a lock left by a process that no longer runs — after kill -9 — is taken over).
 * `clean-shutdown` exists only between a clean close and the next open; it tells recovery
 * that every index and producer snapshot describes its segment exactly.
 */
import { readFile, stat, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import process from 'node:process';
import { fsyncDirectory, ignoreMissing } from './durable-file.js';
import { StoreError } from './errors.js';

const LOCK_FILE = 'store.lock';
const CLEAN_SHUTDOWN_FILE = 'clean-shutdown';
const openInThisProcess = new Set<string>();

/** Claims `dataDir` (absolute, existing) for this process; throws KAFKA_STORAGE_ERROR if taken. */
export async function claimDataDirectory(dataDir: string): Promise<void> {
  if (openInThisProcess.has(dataDir))
    throw new StoreError(
      'KAFKA_STORAGE_ERROR',
      `the store in ${dataDir} is already open in this process`,
      { dataDir },
    );
  const lockPath = path.join(dataDir, LOCK_FILE);
  let holder = Number.NaN;
  try {
    holder = Number((await readFile(lockPath, 'utf8')).trim());
  } catch (error) {
    ignoreMissing(error);
  }
  if (Number.isInteger(holder) && holder > 0 && holder !== process.pid && processIsAlive(holder))
    throw new StoreError(
      'KAFKA_STORAGE_ERROR',
      `the store in ${dataDir} is in use by process ${holder}; stop it or use another data directory`,
      { dataDir, holder },
    );
  await writeFile(lockPath, `${process.pid}\n`);
  openInThisProcess.add(dataDir);
}

export async function releaseDataDirectory(dataDir: string): Promise<void> {
  openInThisProcess.delete(dataDir);
  await unlink(path.join(dataDir, LOCK_FILE)).catch(() => undefined);
}

/** True when the last close was clean; the marker is removed (durably) before anything changes. */
export async function consumeCleanShutdownMarker(dataDir: string): Promise<boolean> {
  const markerPath = path.join(dataDir, CLEAN_SHUTDOWN_FILE);
  try {
    await stat(markerPath);
  } catch (error) {
    ignoreMissing(error);
    return false;
  }
  await unlink(markerPath);
  await fsyncDirectory(dataDir);
  return true;
}

/** Call last in a close that made everything durable. */
export async function markCleanShutdown(dataDir: string): Promise<void> {
  await writeFile(path.join(dataDir, CLEAN_SHUTDOWN_FILE), '');
  await fsyncDirectory(dataDir);
}

function processIsAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
