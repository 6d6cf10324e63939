/**
 * Avro schema parsing and compatibility for the embedded registry, with avsc's schema
 * resolution (Avro specification "Schema Resolution") as the judge:
 *
 *   BACKWARD  the new schema reads data written with the latest earlier one
 *   FORWARD   the latest earlier schema reads data written with the new one
 *   FULL      both
 *   *_TRANSITIVE  the same against every earlier (not deleted) version
 *   NONE      no check
 */
import avro from 'avsc';
import { describeError } from '../../errors/extentlog-error.js';

export const COMPATIBILITY_LEVELS = [
  'NONE',
  'BACKWARD',
  'BACKWARD_TRANSITIVE',
  'FORWARD',
  'FORWARD_TRANSITIVE',
  'FULL',
  'FULL_TRANSITIVE',
] as const;

export type CompatibilityLevel = (typeof COMPATIBILITY_LEVELS)[number];

export const DEFAULT_COMPATIBILITY: CompatibilityLevel = 'BACKWARD';

export function parseCompatibilityLevel(value: unknown): CompatibilityLevel | undefined {
  if (typeof value !== 'string') return undefined;
  const upper = value.toUpperCase();
  return COMPATIBILITY_LEVELS.find((level) => level === upper);
}

export interface ParsedAvroSchema {
  readonly type: avro.Type;
  /**
   * The form compared to find an identical schema and returned to clients: avsc's export
   * with full names and attributes, so formatting and namespace spelling do not matter but
   * defaults, docs and order do.
   */
  readonly canonical: string;
}

/** Parses schema text; throws an Error whose message says what is wrong. */
export function parseAvroSchema(text: string): ParsedAvroSchema {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new Error(`the schema is not JSON: ${describeError(error)}`, { cause: error });
  }
  const type = avro.Type.forSchema(json as avro.Schema);
  return { type, canonical: JSON.stringify(type.schema({ exportAttrs: true })) };
}

export interface EarlierSchema {
  readonly version: number;
  readonly id: number;
  readonly type: avro.Type;
}

function canRead(reader: avro.Type, writer: avro.Type): string | undefined {
  try {
    reader.createResolver(writer);
    return undefined;
  } catch (error) {
    return describeError(error);
  }
}

/**
 * Checks a candidate against the earlier versions (oldest first) under a level; returns one
 * message per violation, empty when compatible.
 */
export function compatibilityProblems(
  level: CompatibilityLevel,
  candidate: avro.Type,
  earlier: readonly EarlierSchema[],
): string[] {
  if (level === 'NONE' || earlier.length === 0) return [];
  const against = level.endsWith('_TRANSITIVE') ? earlier : earlier.slice(-1);
  const backward = level.startsWith('BACKWARD') || level.startsWith('FULL');
  const forward = level.startsWith('FORWARD') || level.startsWith('FULL');
  const problems: string[] = [];
  for (const { version, id, type } of against) {
    const readOld = backward ? canRead(candidate, type) : undefined;
    if (readOld !== undefined)
      problems.push(
        `{errorType:READER_CANNOT_READ_OLD, description:'the new schema cannot read data written with version ${version} (id ${id}): ${readOld}'}`,
      );
    const readNew = forward ? canRead(type, candidate) : undefined;
    if (readNew !== undefined)
      problems.push(
        `{errorType:OLD_READER_CANNOT_READ_NEW, description:'version ${version} (id ${id}) cannot read data written with the new schema: ${readNew}'}`,
      );
  }
  return problems;
}
