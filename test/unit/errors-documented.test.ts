import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';

// dist/test/unit → the build root (dist/) and the repository root.
const here = path.dirname(fileURLToPath(import.meta.url));
const buildRoot = path.resolve(here, '..', '..');
const repoRoot = path.resolve(buildRoot, '..');

/** Every `errors.js` of the build (`<area>/errors.js` and nested ones such as log/registry/). */
async function errorModules(): Promise<string[]> {
  const entries = await readdir(buildRoot, { recursive: true, withFileTypes: true });
  return entries
    .filter((entry) => entry.isFile() && entry.name === 'errors.js')
    .map((entry) => path.join(entry.parentPath, entry.name))
    .filter((file) => !path.relative(buildRoot, file).startsWith(`test${path.sep}`))
    .sort();
}

/** Codes of every error area: each area's class carries its table as static `codes`. */
async function declaredCodes(): Promise<Set<string>> {
  const codes = new Set<string>();
  for (const file of await errorModules()) {
    const module = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
    for (const value of Object.values(module)) {
      const table = (value as { codes?: unknown } | null)?.codes;
      if (typeof value === 'function' && table !== null && typeof table === 'object')
        for (const code of Object.keys(table)) codes.add(code);
    }
  }
  return codes;
}

test('every error code is documented in docs/errors.md, and only those', async () => {
  const docs = await readFile(path.join(repoRoot, 'docs', 'errors.md'), 'utf8');
  const documented = new Set(
    [...docs.matchAll(/^\|\s*`(EXTENTLOG_ERR_[A-Z0-9_]+)`\s*\|/gm)].map((match) => match[1]),
  );
  const declared = await declaredCodes();
  assert.ok(declared.size > 0, 'found no error tables');
  assert.deepEqual(
    [...declared].filter((code) => !documented.has(code)),
    [],
    'codes missing from docs/errors.md',
  );
  assert.deepEqual(
    [...documented].filter((code) => code !== undefined && !declared.has(code)),
    [],
    'docs/errors.md lists codes no table declares',
  );
});
