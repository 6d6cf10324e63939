/**
 * A fresh directory under the OS temp dir, removed when the test ends (also on failure).
 * `beforeRemoval` callbacks (closing what still uses the directory) run first, newest first.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { TestContext } from 'node:test';

export interface TempDir {
  readonly path: string;
  beforeRemoval(cleanup: () => Promise<unknown> | unknown): void;
}

export async function tempDir(t: TestContext, prefix: string): Promise<TempDir> {
  const directory = await mkdtemp(path.join(os.tmpdir(), `extentlog-${prefix}-`));
  const cleanups: (() => Promise<unknown> | unknown)[] = [];
  t.after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
    await rm(directory, { recursive: true, force: true });
  });
  return { path: directory, beforeRemoval: (cleanup) => cleanups.push(cleanup) };
}
