/**
 * Reads and validates a configuration file (YAML or JSON). Errors name the file, the path
 * of the offending setting and what was expected; an unknown key comes with the closest
 * known key ("did you mean …?").
 */
import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import { ConfigError } from '../errors.js';
import { configSchema, type ExtentlogConfig } from './schema.js';

function editDistance(a: string, b: string): number {
  const previous = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let i = 1; i <= a.length; i += 1) {
    let diagonal = previous[0]!;
    previous[0] = i;
    for (let j = 1; j <= b.length; j += 1) {
      const above = previous[j]!;
      previous[j] = Math.min(
        previous[j]! + 1,
        previous[j - 1]! + 1,
        diagonal + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
      diagonal = above;
    }
  }
  return previous[b.length]!;
}

/** The keys an object schema at `path` accepts (any branch of a union), for suggestions. */
function keysAt(schema: z.ZodType, path: readonly PropertyKey[]): string[] {
  const def = (schema as unknown as { def: Record<string, unknown> }).def;
  const type = def.type as string;
  if (type === 'optional' || type === 'default' || type === 'nullable' || type === 'pipe') {
    const inner = (def.innerType ?? def.in) as z.ZodType | undefined;
    return inner === undefined ? [] : keysAt(inner, path);
  }
  if (type === 'union')
    return (def.options as z.ZodType[]).flatMap((option) => keysAt(option, path));
  if (type === 'array')
    return path.length === 0 ? [] : keysAt(def.element as z.ZodType, path.slice(1));
  if (type === 'object') {
    const shape = def.shape as Record<string, z.ZodType>;
    if (path.length === 0) return Object.keys(shape);
    const next = shape[String(path[0])];
    return next === undefined ? [] : keysAt(next, path.slice(1));
  }
  return [];
}

export function suggest(unknown: string, known: readonly string[]): string | null {
  let best: { key: string; distance: number } | null = null;
  for (const key of known) {
    const distance = editDistance(unknown.toLowerCase(), key.toLowerCase());
    if (best === null || distance < best.distance) best = { key, distance };
  }
  return best !== null && best.distance <= Math.max(2, Math.floor(unknown.length / 3))
    ? best.key
    : null;
}

function formatPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>(
    (text, part) =>
      typeof part === 'number'
        ? `${text}[${part}]`
        : text === ''
          ? String(part)
          : `${text}.${String(part)}`,
    '',
  );
}

export function describeIssues(issues: readonly z.core.$ZodIssue[], source: string): string {
  const lines = issues.map((issue) => {
    if (issue.code === 'unrecognized_keys') {
      const known = keysAt(configSchema, issue.path);
      return issue.keys
        .map((key) => {
          const where = formatPath([...issue.path, key]);
          const hint = suggest(key, known);
          return `${where}: unknown setting${hint === null ? '' : ` — did you mean '${formatPath([...issue.path, hint])}'?`}`;
        })
        .join('\n  ');
    }
    return `${formatPath(issue.path) || '(top level)'}: ${issue.message}`;
  });
  return `invalid configuration in ${source}:\n  ${lines.join('\n  ')}`;
}

export function parseConfig(raw: unknown, source: string): ExtentlogConfig {
  const result = configSchema.safeParse(raw ?? {});
  if (!result.success)
    throw new ConfigError(
      'EXTENTLOG_ERR_CONFIG_INVALID',
      describeIssues(result.error.issues, source),
    );
  return Object.freeze(result.data) as ExtentlogConfig;
}

export async function loadConfig(file: string): Promise<ExtentlogConfig> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new ConfigError(
      'EXTENTLOG_ERR_CONFIG_READ',
      `cannot read the configuration file ${file}: ${(error as Error).message}`,
      { cause: error },
    );
  }
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (error) {
    throw new ConfigError(
      'EXTENTLOG_ERR_CONFIG_SYNTAX',
      `${file} is not valid YAML/JSON: ${(error as Error).message}`,
      { cause: error },
    );
  }
  return parseConfig(raw, file);
}
