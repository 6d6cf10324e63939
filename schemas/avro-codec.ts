/**
 * A Confluent-framed Avro codec bound to one registry subject, shared by the extent-record
 * and restore-point codecs. The top-level schema is a record or a union of records.
 *
 * Encoding writes with our own schema (registered once by `register()`), into one buffer
 * sized up front: header, union index, then avsc writes the fields and copies `data` once.
 * Decoding reads the writer's schema id, fetches and caches unknown writer schemas through
 * the registry client, and reads with Avro schema resolution from the writer's branch to
 * ours (records matched by full name or alias), so both older and newer producers' frames
 * decode. Identical schemas skip the resolver.
 */
import avro from 'avsc';
import type { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import { describeError } from '../errors/extentlog-error.js';
import { walkAvroBody } from './avro-body-walk.js';
import { parseAvroType } from './avro-types.js';
import {
  FRAME_HEADER_BYTES,
  readFrameSchemaId,
  readZigzagVarint,
  writeFrameHeader,
  writeZigzagVarint,
} from './confluent-frame.js';
import { SchemaError } from './errors.js';
import { RecordFieldProblem } from './record-field-problem.js';
import { registryFailure } from './registry-failure.js';

export interface AvroBranchValue {
  /** Index of the record in the top-level union (0 for a record schema). */
  readonly branch: number;
  readonly fields: object;
  /** Upper bound of the bytes of strings and bytes in `fields`; numbers need no estimate. */
  readonly variableBytes: number;
}

export interface AvroCodecDefinition<T> {
  /** What a value is called in messages: 'extent record', 'restore point'. */
  readonly label: string;
  readonly schema: avro.Schema;
  /** Validates and maps a value; throws RecordFieldProblem for a bad field. */
  toAvro(value: T): AvroBranchValue;
  /** Maps a decoded record of the named branch; throws RecordFieldProblem for a bad field. */
  fromAvro(branchName: string, fields: Record<string, unknown>): T;
  /** Identifies a value in encode errors, e.g. 'disk vm-1 seq 42'. */
  describe(value: T): string;
}

export interface AvroCodecOptions {
  readonly registry: SchemaRegistry;
  /** TopicNameStrategy subject: '<topic>-value'. */
  readonly subject: string;
}

export interface AvroCodec<T> {
  readonly subject: string;
  /** The id `register()` obtained; undefined before. */
  readonly schemaId: number | undefined;
  /** Registers our schema under the subject (idempotent) and returns its id. */
  register(): Promise<number>;
  /** Frames a value with the registered schema; synchronous once registered. */
  encode(value: T): Buffer;
  decode(frame: Buffer): Promise<T>;
}

/** Room for the numbers, union and enum indexes and length prefixes of one record. */
const FIXED_ENCODE_BYTES = 256;

interface BranchReading {
  readonly writer: avro.Type;
  readonly reader: avro.Type;
  readonly resolver: avro.Resolver | undefined;
}

interface WriterSchema {
  readonly schemaId: number;
  readonly isUnion: boolean;
  readonly branches: readonly avro.Type[];
  /** Resolved lazily per branch: a writer may add a branch only newer readers know. */
  readonly readings: (BranchReading | SchemaError | undefined)[];
}

/** The HTTP resources of the registry client; see `register()` for why they are used. */
interface RegistryHttpResources {
  readonly Subject: {
    register(request: { subject: string; body: { schema: string } }): Promise<{ data(): unknown }>;
  };
}

export function createAvroCodec<T>(
  definition: AvroCodecDefinition<T>,
  { registry, subject }: AvroCodecOptions,
): AvroCodec<T> {
  const { label } = definition;
  const schemaText = JSON.stringify(definition.schema);
  const ownTop = parseAvroType(definition.schema);
  const ownIsUnion = avro.Type.isType(ownTop, 'union');
  const ownBranches = ownIsUnion ? (ownTop as avro.types.WrappedUnionType).types : [ownTop];
  const readerByName = new Map<string, avro.Type>();
  for (const branch of ownBranches)
    for (const name of [branch.name, ...(branch.aliases ?? [])])
      if (name !== undefined) readerByName.set(name, branch);

  const writers = new Map<number, WriterSchema>();
  const pendingWriters = new Map<number, Promise<WriterSchema>>();
  let schemaId: number | undefined;

  function writerSchema(id: number, top: avro.Type): WriterSchema {
    const isUnion = avro.Type.isType(top, 'union');
    const branches = isUnion ? (top as avro.types.WrappedUnionType).types : [top];
    return { schemaId: id, isUnion, branches, readings: branches.map(() => undefined) };
  }

  function branchReading(writer: WriterSchema, index: number): BranchReading {
    const known = writer.readings[index];
    if (known instanceof SchemaError) throw known;
    if (known !== undefined) return known;
    const branch = writer.branches[index] as avro.Type;
    let reading: BranchReading | SchemaError;
    const reader = branch.name === undefined ? undefined : readerByName.get(branch.name);
    if (reader === undefined) {
      reading = new SchemaError(
        'EXTENTLOG_ERR_SCHEMA_UNREADABLE_SCHEMA',
        `${label} schema id ${writer.schemaId}: expected a record this version reads (${[...new Set(readerByName.values())].map((type) => type.name).join(', ')}), received ${branch.name ?? branch.typeName}; upgrade this consumer`,
        { details: { schemaId: writer.schemaId } },
      );
    } else {
      try {
        const resolver = reader.equals(branch) ? undefined : reader.createResolver(branch);
        reading = { writer: branch, reader, resolver };
      } catch (error) {
        reading = new SchemaError(
          'EXTENTLOG_ERR_SCHEMA_UNREADABLE_SCHEMA',
          `${label} schema id ${writer.schemaId}: cannot read its ${branch.name} as ours: ${describeError(error)}; upgrade this consumer`,
          { cause: error, details: { schemaId: writer.schemaId } },
        );
      }
    }
    writer.readings[index] = reading;
    if (reading instanceof SchemaError) throw reading;
    return reading;
  }

  function loadWriter(id: number): Promise<WriterSchema> {
    const pending = pendingWriters.get(id);
    if (pending !== undefined) return pending;
    const loading = (async () => {
      let fetched: unknown;
      try {
        fetched = await registry.getSchema(id);
      } catch (error) {
        throw registryFailure(error, { action: `fetch ${label} schema id ${id}`, schemaId: id });
      }
      let top: avro.Type;
      try {
        // Re-parsed with our long and bytes types: the client's own types round longs.
        top = parseAvroType((fetched as avro.Type).schema({ exportAttrs: true }));
      } catch (error) {
        throw new SchemaError(
          'EXTENTLOG_ERR_SCHEMA_UNREADABLE_SCHEMA',
          `${label} schema id ${id}: expected an Avro schema, the registry returned one avsc cannot parse: ${describeError(error)}`,
          { cause: error, details: { schemaId: id } },
        );
      }
      const writer = writerSchema(id, top);
      writers.set(id, writer);
      return writer;
    })().finally(() => pendingWriters.delete(id));
    pendingWriters.set(id, loading);
    return loading;
  }

  function bodyError(writer: WriterSchema, frame: Buffer, branch: avro.Type, start: number) {
    const walked = walkAvroBody(branch, frame, start);
    const problem = walked.problem ?? {
      code: 'EXTENTLOG_ERR_SCHEMA_CORRUPT_BODY' as const,
      position: start,
      path: '',
      detail: `expected a ${branch.name} the reader can resolve, received bytes it cannot decode`,
    };
    return new SchemaError(
      problem.code,
      `${label} frame (schema id ${writer.schemaId}, ${branch.name}, ${frame.length} bytes) at byte ${problem.position}: ${problem.detail}`,
      { details: { schemaId: writer.schemaId, position: problem.position, field: problem.path } },
    );
  }

  function fieldError(
    writer: WriterSchema,
    frame: Buffer,
    branch: avro.Type,
    start: number,
    problem: RecordFieldProblem,
  ) {
    const path = problem.path.join('.');
    const position = walkAvroBody(branch, frame, start).positions.get(path);
    const where =
      position === undefined ? 'not in the writer schema (reader default)' : `at byte ${position}`;
    return new SchemaError(
      problem.code,
      `${label} frame (schema id ${writer.schemaId}, ${branch.name}) field ${path} ${where}: ${problem.detail}`,
      { details: { schemaId: writer.schemaId, position, field: path } },
    );
  }

  function decodeFrame(writer: WriterSchema, frame: Buffer): T {
    let index = 0;
    let start = FRAME_HEADER_BYTES;
    if (writer.isUnion) {
      const read = readZigzagVarint(frame, start);
      if (read === undefined)
        throw new SchemaError(
          'EXTENTLOG_ERR_SCHEMA_TRUNCATED_BODY',
          `${label} frame (schema id ${writer.schemaId}, ${frame.length} bytes) at byte ${frame.length}: expected the record's union branch index at byte ${start}, received the end of the frame`,
          { details: { schemaId: writer.schemaId, position: frame.length } },
        );
      if (writer.branches[read.value] === undefined)
        throw new SchemaError(
          'EXTENTLOG_ERR_SCHEMA_BAD_UNION_INDEX',
          `${label} frame (schema id ${writer.schemaId}) at byte ${start}: expected a record index 0 … ${writer.branches.length - 1} (${writer.branches.map((type) => type.name).join(' | ')}), received ${read.value}`,
          { details: { schemaId: writer.schemaId, position: start } },
        );
      index = read.value;
      start = read.next;
    }
    const reading = branchReading(writer, index);
    let decoded: { value: unknown; offset: number };
    try {
      decoded = reading.reader.decode(frame, start, reading.resolver);
    } catch {
      throw bodyError(writer, frame, reading.writer, start);
    }
    if (decoded.offset !== frame.length) throw bodyError(writer, frame, reading.writer, start);
    try {
      return definition.fromAvro(
        reading.reader.name as string,
        decoded.value as Record<string, unknown>,
      );
    } catch (error) {
      if (error instanceof RecordFieldProblem)
        throw fieldError(writer, frame, reading.writer, start, error);
      throw error;
    }
  }

  function encodeInto(frame: Buffer, id: number, mapped: AvroBranchValue, type: avro.Type) {
    let position = writeFrameHeader(frame, id);
    if (ownIsUnion) position = writeZigzagVarint(frame, mapped.branch, position);
    return type.encode(mapped.fields, frame, position);
  }

  return {
    subject,
    get schemaId() {
      return schemaId;
    },

    async register() {
      // The client's register() refuses schemas without a top-level name (a union of
      // records), so the POST /subjects/{subject}/versions goes through its HTTP resources,
      // which keep its retries, authentication and error mapping.
      const resources = (registry as unknown as { api?: RegistryHttpResources }).api;
      if (typeof resources?.Subject?.register !== 'function')
        throw new SchemaError(
          'EXTENTLOG_ERR_SCHEMA_REGISTRY_FAILED',
          `register the ${label} schema under subject ${subject}: the installed @kafkajs/confluent-schema-registry does not expose its HTTP resources; install version 3.x`,
        );
      let id: unknown;
      try {
        const response = await resources.Subject.register({
          subject,
          body: { schema: schemaText },
        });
        id = (response.data() as { id?: unknown }).id;
      } catch (error) {
        throw registryFailure(error, {
          action: `register the ${label} schema under subject ${subject}`,
          subject,
        });
      }
      if (typeof id !== 'number' || !Number.isInteger(id) || id <= 0)
        throw new SchemaError(
          'EXTENTLOG_ERR_SCHEMA_REGISTRY_FAILED',
          `register the ${label} schema under subject ${subject}: expected a positive integer id in the answer, received ${JSON.stringify(id)}`,
        );
      writers.set(id, writerSchema(id, ownTop));
      schemaId = id;
      return id;
    },

    encode(value) {
      if (schemaId === undefined)
        throw new SchemaError(
          'EXTENTLOG_ERR_SCHEMA_NOT_REGISTERED',
          `cannot encode ${label} for subject ${subject}: the schema is not registered yet; call register() once before encoding`,
        );
      let mapped: AvroBranchValue;
      try {
        mapped = definition.toAvro(value);
      } catch (error) {
        if (error instanceof RecordFieldProblem)
          throw new SchemaError(
            error.code,
            `cannot encode ${label} (${definition.describe(value)}): ${error.message}`,
            { details: { field: error.path.join('.') } },
          );
        throw error;
      }
      const type = ownBranches[mapped.branch] as avro.Type;
      let frame = Buffer.allocUnsafe(
        FRAME_HEADER_BYTES + FIXED_ENCODE_BYTES + mapped.variableBytes,
      );
      try {
        let end = encodeInto(frame, schemaId, mapped, type);
        if (end < 0) {
          // avsc reports how many bytes were missing; the second pass cannot fall short.
          frame = Buffer.allocUnsafe(frame.length - end);
          end = encodeInto(frame, schemaId, mapped, type);
        }
        return frame.subarray(0, end);
      } catch (error) {
        throw new SchemaError(
          'EXTENTLOG_ERR_SCHEMA_INVALID_RECORD',
          `cannot encode ${label} (${definition.describe(value)}): ${describeError(error)}`,
          { cause: error },
        );
      }
    },

    async decode(frame) {
      const id = readFrameSchemaId(frame, label);
      return decodeFrame(writers.get(id) ?? (await loadWriter(id)), frame);
    },
  };
}
