/**
 * Field checks shared by the record mappings. A mapping reports a bad field as a
 * `RecordFieldProblem` naming its path; the codec turns it into a SchemaError and, when
 * decoding, adds where the field sits in the frame.
 */
import type { SchemaErrorCode } from './errors.js';

export class RecordFieldProblem extends Error {
  constructor(
    readonly code: SchemaErrorCode,
    /** Field path inside the record, e.g. ['provenance', 'journalSeq']. */
    readonly path: readonly string[],
    /** "expected …, received …" */
    readonly detail: string,
  ) {
    super(`field ${path.join('.')}: ${detail}`);
    this.name = 'RecordFieldProblem';
  }
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const UINT32_MAX = 2 ** 32 - 1;

/** A decoded long that must be a non-negative safe integer (offsets, sizes, seq, ms times). */
export function safeCount(value: bigint, path: readonly string[]): number {
  if (value < 0n || value > MAX_SAFE)
    throw new RecordFieldProblem(
      'EXTENTLOG_ERR_SCHEMA_UNSAFE_INTEGER',
      path,
      `expected a non-negative safe integer (0 … 2^53-1), received ${value}`,
    );
  return Number(value);
}

export function optionalSafeCount(value: bigint | null, path: readonly string[]): number | null {
  return value === null ? null : safeCount(value, path);
}

/** A decoded long that holds an unsigned 32-bit value (checksums). */
export function uint32(value: bigint, path: readonly string[]): number {
  if (value < 0n || value > BigInt(UINT32_MAX))
    throw new RecordFieldProblem(
      'EXTENTLOG_ERR_SCHEMA_INVALID_RECORD',
      path,
      `expected an unsigned 32-bit value (0 … ${UINT32_MAX}), received ${value}`,
    );
  return Number(value);
}

/** Checks a number about to be written as a long that must be a non-negative safe integer. */
export function checkSafeCount(value: number, path: readonly string[]): number {
  if (!Number.isSafeInteger(value) || value < 0)
    throw new RecordFieldProblem(
      'EXTENTLOG_ERR_SCHEMA_UNSAFE_INTEGER',
      path,
      `expected a non-negative safe integer (0 … 2^53-1), received ${value}`,
    );
  return value;
}

export function checkOptionalSafeCount(value: number | null, path: readonly string[]) {
  return value === null ? null : checkSafeCount(value, path);
}

export function checkUint32(value: number, path: readonly string[]): number {
  if (!Number.isInteger(value) || value < 0 || value > UINT32_MAX)
    throw new RecordFieldProblem(
      'EXTENTLOG_ERR_SCHEMA_INVALID_RECORD',
      path,
      `expected an unsigned 32-bit value (0 … ${UINT32_MAX}), received ${value}`,
    );
  return value;
}

/** Checks a bigint about to be written as an Avro long (signed 64-bit). */
export function checkInt64(value: bigint, path: readonly string[]): bigint {
  if (typeof value !== 'bigint' || value < INT64_MIN || value > INT64_MAX)
    throw new RecordFieldProblem(
      'EXTENTLOG_ERR_SCHEMA_INVALID_RECORD',
      path,
      `expected a bigint in the signed 64-bit range (-2^63 … 2^63-1), received ${String(value)}${typeof value === 'bigint' ? '' : ` (${typeof value})`}`,
    );
  return value;
}

export function checkOptionalInt64(value: bigint | null, path: readonly string[]) {
  return value === null ? null : checkInt64(value, path);
}

/** Checks that a string is one of an enum's symbols (JavaScript callers bypass the types). */
export function checkSymbol<S extends string>(
  value: S,
  symbols: readonly S[],
  path: readonly string[],
): S {
  if (!symbols.includes(value))
    throw new RecordFieldProblem(
      'EXTENTLOG_ERR_SCHEMA_INVALID_RECORD',
      path,
      `expected one of ${symbols.join(', ')}, received ${JSON.stringify(value)}`,
    );
  return value;
}

/** An upper bound of a string's UTF-8 length, for sizing an encode buffer without scanning it. */
export function utf8BoundBytes(value: string | null): number {
  return value === null ? 0 : value.length * 3;
}
