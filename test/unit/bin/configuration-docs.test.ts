/**
 * The configuration reference and the example configurations stay in step with the schema:
 * every setting is documented in docs/configuration.md, and every file in deploy/ is valid.
 */
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { z } from 'zod';
import { loadConfig } from '../../../bin/config/load-config.js';
import { configSchema } from '../../../bin/config/schema.js';

// dist/test/unit/bin/ → the checkout
const checkout = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');

/** Every setting's path (`feeds[].source.disks[].id`), from the schema's definition. */
function settingPaths(schema: z.ZodType, prefix: string): string[] {
  const def = (schema as unknown as { def: Record<string, unknown> }).def;
  switch (def.type as string) {
    case 'optional':
    case 'default':
    case 'nullable':
      return settingPaths(def.innerType as z.ZodType, prefix);
    case 'pipe':
      return settingPaths(def.in as z.ZodType, prefix);
    case 'array':
      return settingPaths(def.element as z.ZodType, `${prefix}[]`);
    case 'union':
      return [
        ...new Set((def.options as z.ZodType[]).flatMap((option) => settingPaths(option, prefix))),
      ];
    case 'object':
      return Object.entries(def.shape as Record<string, z.ZodType>).flatMap(([key, value]) => {
        const here = prefix === '' ? key : `${prefix}.${key}`;
        return [here, ...settingPaths(value, here)];
      });
    default:
      return [];
  }
}

test('docs/configuration.md documents every setting', async () => {
  const docs = await readFile(path.join(checkout, 'docs', 'configuration.md'), 'utf8');
  const paths = settingPaths(configSchema, '');
  assert.ok(paths.includes('feeds[].source.disks[].path'), 'the walk reaches nested settings');
  // Targets are documented as `targets[].x` whatever their type; so are feeds' sources.
  const missing = paths.filter((setting) => !docs.includes(`| \`${setting}\` |`));
  assert.deepEqual(missing, [], 'settings missing from docs/configuration.md');
});

test('every example configuration in deploy/ is valid', async () => {
  const files: string[] = [];
  const walk = async (directory: string) => {
    for (const entry of await readdir(directory, { withFileTypes: true })) {
      const full = path.join(directory, entry.name);
      // deploy/kubernetes/ holds manifests (tested in test/unit/deploy.test.ts), not configurations.
      if (entry.isDirectory() && entry.name !== 'kubernetes') await walk(full);
      else if (/\.ya?ml$/.test(entry.name)) files.push(full);
    }
  };
  await walk(path.join(checkout, 'deploy'));
  assert.ok(files.length >= 3, `examples found: ${files.join(', ')}`);
  for (const file of files) await loadConfig(file);
  const consumer = await loadConfig(path.join(checkout, 'deploy', 'multi-host', 'consumer.yaml'));
  assert.equal(consumer.feeds.length, 0, 'the consumer host follows feeds that run elsewhere');
  assert.ok(consumer.kafka?.sasl !== undefined && consumer.kafka.tls !== undefined);
});
