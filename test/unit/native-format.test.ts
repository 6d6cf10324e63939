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

/** Files matching `pattern` in `dir` and its subfolders (one level), relative to the root. */
async function sourcesOf(dir: string, pattern: RegExp, skip: readonly string[] = []) {
  const sources: string[] = [];
  for (const entry of await readdir(path.join(repoRoot, dir), { withFileTypes: true })) {
    if (entry.isDirectory() && !skip.includes(entry.name)) {
      for (const file of await readdir(path.join(repoRoot, dir, entry.name)))
        if (pattern.test(file)) sources.push(path.join(dir, entry.name, file));
    } else if (entry.isFile() && pattern.test(entry.name)) {
      sources.push(path.join(dir, entry.name));
    }
  }
  return sources;
}

async function assertFormatted(dir: string, sources: readonly string[]) {
  assert.ok(sources.length > 0);
  const result = await run('clang-format', ['--dry-run', '--Werror', ...sources], {
    cwd: repoRoot,
  }).catch((error: { stderr?: string }) => ({
    stderr: error.stderr ?? String(error),
    failed: true,
  }));
  assert.ok(!('failed' in result), `run clang-format -i on ${dir}/:\n${result.stderr}`);
}

test('the native addons are clang-formatted (native/.clang-format)', async () => {
  await assertFormatted('native', await sourcesOf('native', /\.(cc|h)$/, ['build']));
});

test('the kernel module is in kernel style (kmod/.clang-format)', async () => {
  await assertFormatted('kmod', await sourcesOf('kmod', /\.(c|h)$/, ['build', 'vm']));
});
