/**
 * Fresh directories under the OS temp dir for tests. `tempDir` removes its directory when
 * the test ends (also on failure), running `beforeRemoval` callbacks (closing what still
 * uses the directory) first, newest first; `makeTempDir` leaves the removal to the caller.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { TestContext } from 'node:test';

export interface TempDir {
  readonly path: string;
  beforeRemoval(cleanup: () => Promise<unknown> | unknown): void;
}

export async function makeTempDir(
  prefix: string,
): Promise<{ dir: string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), `extentlog-${prefix}-`));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

export async function tempDir(t: TestContext, prefix: string): Promise<TempDir> {
  const { dir, remove } = await makeTempDir(prefix);
  const cleanups: (() => Promise<unknown> | unknown)[] = [];
  t.after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
    await remove();
  });
  return { path: dir, beforeRemoval: (cleanup) => cleanups.push(cleanup) };
}
