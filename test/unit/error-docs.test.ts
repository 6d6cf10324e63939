import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';

// dist/test/unit/ → the checkout (docs/) and the build (dist/)
const distDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const docsFile = path.resolve(distDir, '../docs/errors.md');

async function errorModules(directory: string): Promise<string[]> {
  const found: string[] = [];
  for (const entry of await readdir(directory, { withFileTypes: true })) {
    const full = path.join(directory, entry.name);
    if (entry.isDirectory() && entry.name !== 'test' && entry.name !== 'node_modules')
      found.push(...(await errorModules(full)));
    else if (entry.name === 'errors.js') found.push(full);
  }
  return found;
}

async function declaredCodes(): Promise<Map<string, string>> {
  const codes = new Map<string, string>();
  for (const file of await errorModules(distDir)) {
    const exports = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
    for (const value of Object.values(exports)) {
      const table = (value as { codes?: unknown }).codes;
      if (typeof value !== 'function' || typeof table !== 'object' || table === null) continue;
      for (const code of Object.keys(table)) codes.set(code, path.relative(distDir, file));
    }
  }
  return codes;
}

test('every declared error code is documented in docs/errors.md, and only those', async () => {
  const declared = await declaredCodes();
  assert.ok(declared.size > 0, 'no error tables found under dist/');
  const documented = new Set(
    [...(await readFile(docsFile, 'utf8')).matchAll(/^\| `(EXTENTLOG_ERR_[A-Z0-9_]+)` \|/gm)].map(
      (match) => match[1] as string,
    ),
  );
  const undocumented = [...declared.keys()].filter((code) => !documented.has(code));
  assert.deepEqual(
    undocumented.map((code) => `${code} (${declared.get(code)})`),
    [],
    'codes missing from docs/errors.md',
  );
  const stale = [...documented].filter((code) => !declared.has(code));
  assert.deepEqual(stale, [], 'docs/errors.md documents codes no table declares');
});

test('every code follows EXTENTLOG_ERR_<AREA>_<WHAT>', async () => {
  for (const code of (await declaredCodes()).keys())
    assert.match(code, /^EXTENTLOG_ERR_[A-Z0-9]+_[A-Z0-9_]+$/);
});
