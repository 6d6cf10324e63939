/** A fresh directory under os.tmpdir() per test file, removed by the returned function. */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

export async function makeTempDir(
  prefix: string,
): Promise<{ dir: string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), `extentlog-${prefix}-`));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}
