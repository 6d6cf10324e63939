/**
 * Walks an Avro body field by field with the writer's schema to say where it goes wrong.
 * This is the slow path, taken only after a decode failed (or a decoded field broke the
 * contract): the fast path decodes the whole record in one call, which reports neither
 * the field nor the byte position.
 */
import avro from 'avsc';
import type { SchemaErrorCode } from './errors.js';
import { readZigzagVarint } from './confluent-frame.js';

export interface BodyProblem {
  readonly code: SchemaErrorCode;
  /** Byte position in the frame. */
  readonly position: number;
  /** Dotted field path, '' for the record itself. */
  readonly path: string;
  readonly detail: string;
}

export interface BodyWalk {
  /** Where each field (dotted path) starts, as far as the walk got. */
  readonly positions: ReadonlyMap<string, number>;
  readonly problem: BodyProblem | undefined;
}

export function walkAvroBody(type: avro.Type, frame: Buffer, start: number): BodyWalk {
  const positions = new Map<string, number>();
  let problem: BodyProblem | undefined;

  const fail = (code: SchemaErrorCode, position: number, path: string, detail: string) => {
    problem = { code, position, path, detail };
    return -1;
  };
  const truncated = (position: number, path: string) =>
    fail(
      'EXTENTLOG_ERR_SCHEMA_TRUNCATED_BODY',
      frame.length,
      path,
      `expected more bytes for ${describe(path)} (which starts at byte ${position}), received a frame that ends at byte ${frame.length}`,
    );

  const walk = (current: avro.Type, position: number, path: string): number => {
    positions.set(path, position);
    if (avro.Type.isType(current, 'record')) {
      let next = position;
      for (const field of (current as avro.types.RecordType).fields) {
        next = walk(field.type, next, path === '' ? field.name : `${path}.${field.name}`);
        if (next < 0) return next;
      }
      return next;
    }
    if (current.typeName === 'null') return position;
    if (position >= frame.length) return truncated(position, path);
    if (avro.Type.isType(current, 'union')) {
      const branches = (current as avro.types.WrappedUnionType).types;
      const index = readZigzagVarint(frame, position);
      if (index === undefined) return truncated(position, path);
      const branch = branches[index.value];
      if (branch === undefined)
        return fail(
          'EXTENTLOG_ERR_SCHEMA_BAD_UNION_INDEX',
          position,
          path,
          `expected a union branch index 0 … ${branches.length - 1} for ${describe(path)} (${branches.map(branchName).join(' | ')}), received ${index.value}`,
        );
      return walk(branch, index.next, path);
    }
    if (avro.Type.isType(current, 'enum')) {
      const symbols = (current as avro.types.EnumType).symbols;
      const index = readZigzagVarint(frame, position);
      if (index === undefined) return truncated(position, path);
      if (symbols[index.value] === undefined)
        return fail(
          'EXTENTLOG_ERR_SCHEMA_BAD_ENUM_INDEX',
          position,
          path,
          `expected an enum index 0 … ${symbols.length - 1} for ${describe(path)} (${symbols.join(', ')}), received ${index.value}`,
        );
      return index.next;
    }
    if (current.typeName === 'bytes' || current.typeName === 'string') {
      const length = readZigzagVarint(frame, position);
      if (length === undefined) return truncated(position, path);
      if (length.value < 0)
        return fail(
          'EXTENTLOG_ERR_SCHEMA_CORRUPT_BODY',
          position,
          path,
          `expected a length ≥ 0 for ${describe(path)}, received ${length.value}`,
        );
    }
    try {
      const decoded = current.decode(frame, position);
      return decoded.offset < 0 ? truncated(position, path) : decoded.offset;
    } catch (error) {
      return fail(
        'EXTENTLOG_ERR_SCHEMA_CORRUPT_BODY',
        position,
        path,
        `expected a valid ${current.typeName} for ${describe(path)}, decoding failed: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
  };

  const end = walk(type, start, '');
  if (problem === undefined && end >= 0 && end < frame.length)
    fail(
      'EXTENTLOG_ERR_SCHEMA_TRAILING_BYTES',
      end,
      '',
      `expected the frame to end with the record at byte ${end}, received ${frame.length - end} more bytes`,
    );
  return { positions, problem };
}

function describe(path: string): string {
  return path === '' ? 'the record' : `field ${path}`;
}

function branchName(type: avro.Type): string {
  return type.name ?? type.typeName;
}
