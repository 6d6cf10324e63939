/**
 * Every error code declared in an area's `errors.ts` table is documented in docs/errors.md,
 * and every code documented there exists.
 */
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';

const distRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const docs = path.resolve(distRoot, '../docs/errors.md');

async function errorModules(dir: string): Promise<string[]> {
  const found: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory() && entry.name !== 'test' && entry.name !== 'node_modules') {
      found.push(...(await errorModules(full)));
    } else if (entry.name === 'errors.js') {
      found.push(full);
    }
  }
  return found;
}

test('error code tables and docs/errors.md list the same codes', async () => {
  const declared = new Set<string>();
  for (const file of await errorModules(distRoot)) {
    const module = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
    for (const value of Object.values(module)) {
      if (typeof value !== 'object' || value === null) continue;
      for (const key of Object.keys(value)) if (key.startsWith('EXTENTLOG_ERR_')) declared.add(key);
    }
  }
  assert.ok(declared.size > 0, 'no error tables found');
  const documented = new Set(
    [...(await readFile(docs, 'utf8')).matchAll(/^\| `(EXTENTLOG_ERR_[A-Z0-9_]+)`/gm)].map(
      (m) => m[1] as string,
    ),
  );
  assert.deepEqual(
    [...declared].filter((code) => !documented.has(code)),
    [],
    'codes missing from docs/errors.md',
  );
  assert.deepEqual(
    [...documented].filter((code) => !declared.has(code)),
    [],
    'documented codes that no table declares',
  );
});
