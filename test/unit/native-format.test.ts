import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
// dist/test/unit → the repository root.
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

test('the native addons are clang-formatted (native/.clang-format)', async () => {
  const sources: string[] = [];
  for (const addon of await readdir(path.join(repoRoot, 'native'), { withFileTypes: true })) {
    if (!addon.isDirectory()) continue;
    for (const file of await readdir(path.join(repoRoot, 'native', addon.name)))
      if (/\.(cc|h)$/.test(file)) sources.push(path.join('native', addon.name, file));
  }
  assert.ok(sources.length > 0);
  const result = await run('clang-format', ['--dry-run', '--Werror', ...sources], {
    cwd: repoRoot,
  }).catch((error: { stderr?: string }) => ({
    stderr: error.stderr ?? String(error),
    failed: true,
  }));
  assert.ok(!('failed' in result), `run clang-format -i on native/:\n${result.stderr}`);
});
