/**
 * The registry's operations with Confluent Schema Registry semantics (API reference:
 * /subjects, /schemas, /config, /compatibility). Reads answer from memory; each change is
 * validated against the current state, journaled and fsynced, and only then applied and
 * answered. Changes run one at a time so every check sees the changes before it.
 */
import { describeError } from '../../errors/extentlog-error.js';
import {
  compatibilityProblems,
  parseAvroSchema,
  parseCompatibilityLevel,
  COMPATIBILITY_LEVELS,
  type CompatibilityLevel,
  type EarlierSchema,
  type ParsedAvroSchema,
} from './avro-compatibility.js';
import { RegistryHttpError } from './registry-http-error.js';
import type { RegistryJournal } from './registry-journal.js';
import type { RegistryChange, RegistryState, SubjectVersion } from './registry-state.js';

export interface SchemaBody {
  readonly schema: string;
  readonly schemaType?: string;
  readonly references?: readonly unknown[];
}

export interface SubjectSchema {
  readonly subject: string;
  readonly id: number;
  readonly version: number;
  readonly schema: string;
}

export interface RegistryServiceLog {
  info(message: string): void;
}

const MAX_VERSION = 2 ** 31 - 1;

/** 'latest', -1 (Confluent's alias of latest) or 1 … 2^31-1. */
export function parseVersion(raw: string): number | 'latest' {
  if (raw === 'latest' || raw === '-1') return 'latest';
  const version = /^[0-9]+$/.test(raw) ? Number(raw) : NaN;
  if (Number.isInteger(version) && version >= 1 && version <= MAX_VERSION) return version;
  throw new RegistryHttpError(
    'INVALID_VERSION',
    `The specified version '${raw}' is not a valid version id. Allowed values are between [1, 2^31-1] and the string "latest"`,
  );
}

function parseSchemaBody(body: SchemaBody): ParsedAvroSchema {
  const schemaType = body.schemaType ?? 'AVRO';
  if (schemaType !== 'AVRO')
    throw new RegistryHttpError(
      'INVALID_SCHEMA',
      `Invalid schema: schemaType ${schemaType} is not supported; this registry stores AVRO schemas only`,
    );
  if (body.references !== undefined && body.references.length > 0)
    throw new RegistryHttpError(
      'INVALID_SCHEMA',
      'Invalid schema: schema references are not supported; inline the referenced named types',
    );
  try {
    return parseAvroSchema(body.schema);
  } catch (error) {
    throw new RegistryHttpError('INVALID_SCHEMA', `Invalid schema: ${describeError(error)}`, {
      cause: error,
    });
  }
}

function subjectNotFound(subject: string): RegistryHttpError {
  return new RegistryHttpError('SUBJECT_NOT_FOUND', `Subject '${subject}' not found.`);
}

export class RegistryService {
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly state: RegistryState,
    private readonly journal: RegistryJournal<readonly RegistryChange[]>,
    private readonly log: RegistryServiceLog,
  ) {}

  /**
   * Runs a change after the ones before it. `plan` checks it against the current state and
   * returns what to journal, the answer, and a line to log once it is durable.
   */
  private change<T>(
    plan: () => { changes: RegistryChange[]; answer: T; note?: string },
  ): Promise<T> {
    const run = this.queue.then(async () => {
      const { changes, answer, note } = plan();
      if (changes.length > 0) {
        try {
          await this.journal.append(changes);
        } catch (error) {
          throw new RegistryHttpError(
            'STORE_ERROR',
            `Error in the backend data store: cannot write ${this.journal.path}: ${describeError(error)}`,
            { cause: error },
          );
        }
        for (const change of changes) this.state.apply(change);
      }
      if (note !== undefined) this.log.info(note);
      return answer;
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  private subjectSchema(subject: string, entry: SubjectVersion): SubjectSchema {
    const stored = this.state.schema(entry.id);
    return {
      subject,
      id: entry.id,
      version: entry.version,
      schema: stored?.canonical ?? '',
    };
  }

  private findVersion(subject: string, raw: string, includeDeleted: boolean): SubjectVersion {
    const wanted = parseVersion(raw);
    const versions = this.state.versions(subject, includeDeleted);
    if (
      this.state.versions(subject, true).length === 0 ||
      (wanted === 'latest' && versions.length === 0)
    )
      throw subjectNotFound(subject);
    const entry =
      wanted === 'latest' ? versions.at(-1) : versions.find(({ version }) => version === wanted);
    if (entry === undefined)
      throw new RegistryHttpError('VERSION_NOT_FOUND', `Version ${raw} not found.`);
    return entry;
  }

  private earlier(versions: readonly SubjectVersion[]): EarlierSchema[] {
    return versions.flatMap(({ version, id }) => {
      const stored = this.state.schema(id);
      return stored === undefined ? [] : [{ version, id, type: stored.type }];
    });
  }

  schemaById(id: number): { schema: string } {
    const stored = this.state.schema(id);
    if (stored === undefined || !this.state.isReferenced(id))
      throw new RegistryHttpError('SCHEMA_NOT_FOUND', `Schema ${id} not found`);
    return { schema: stored.canonical };
  }

  schemaUsages(id: number, includeDeleted: boolean): { subject: string; version: number }[] {
    this.schemaById(id);
    return this.state.usages(id, includeDeleted);
  }

  subjects(includeDeleted: boolean): string[] {
    return this.state.subjects(includeDeleted);
  }

  versions(subject: string, includeDeleted: boolean): number[] {
    const versions = this.state.versions(subject, includeDeleted);
    if (versions.length === 0) throw subjectNotFound(subject);
    return versions.map(({ version }) => version);
  }

  version(subject: string, raw: string, includeDeleted: boolean): SubjectSchema {
    return this.subjectSchema(subject, this.findVersion(subject, raw, includeDeleted));
  }

  lookup(subject: string, body: SchemaBody, includeDeleted: boolean): SubjectSchema {
    const versions = this.state.versions(subject, includeDeleted);
    if (versions.length === 0) throw subjectNotFound(subject);
    const { canonical } = parseSchemaBody(body);
    const id = this.state.idOf(canonical);
    const entry = versions.findLast((candidate) => candidate.id === id);
    if (entry === undefined) throw new RegistryHttpError('SCHEMA_NOT_FOUND', 'Schema not found');
    return this.subjectSchema(subject, entry);
  }

  register(subject: string, body: SchemaBody): Promise<{ id: number }> {
    const parsed = parseSchemaBody(body);
    return this.change(() => {
      const live = this.state.versions(subject, false);
      const existingId = this.state.idOf(parsed.canonical);
      if (existingId !== undefined && live.some(({ id }) => id === existingId))
        return { changes: [], answer: { id: existingId } };
      const level = this.state.effectiveLevel(subject);
      const problems = compatibilityProblems(level, parsed.type, this.earlier(live));
      if (problems.length > 0)
        throw new RegistryHttpError(
          'INCOMPATIBLE_SCHEMA',
          `Schema being registered is incompatible with an earlier schema for subject "${subject}" (compatibility ${level}), details: [${problems.join(', ')}]`,
        );
      const id = existingId ?? this.state.nextId();
      const version = (this.state.versions(subject, true).at(-1)?.version ?? 0) + 1;
      const changes: RegistryChange[] = [];
      if (existingId === undefined) changes.push({ op: 'schema', id, schema: parsed.canonical });
      changes.push({ op: 'version', subject, version, id });
      return {
        changes,
        answer: { id },
        note: `registered schema id ${id} as subject ${subject} version ${version}`,
      };
    });
  }

  deleteSubject(subject: string, permanent: boolean): Promise<number[]> {
    return this.change(() => {
      const all = this.state.versions(subject, true);
      if (all.length === 0) throw subjectNotFound(subject);
      const live = all.filter(({ deleted }) => !deleted);
      if (permanent && live.length > 0)
        throw new RegistryHttpError(
          'SUBJECT_NOT_SOFT_DELETED',
          `Subject '${subject}' was not deleted first before being permanently deleted`,
        );
      if (!permanent && live.length === 0)
        throw new RegistryHttpError(
          'SUBJECT_SOFT_DELETED',
          `Subject '${subject}' was soft deleted. Set permanent=true to delete permanently`,
        );
      const removed = permanent ? all : live;
      const changes: RegistryChange[] = removed.map(({ version }) => ({
        op: 'delete-version',
        subject,
        version,
        permanent,
      }));
      if (permanent && this.state.subjectLevel(subject) !== undefined)
        changes.push({ op: 'config', subject, compatibility: null });
      return {
        changes,
        answer: removed.map(({ version }) => version),
        note: `${permanent ? 'permanently ' : ''}deleted subject ${subject}`,
      };
    });
  }

  deleteVersion(subject: string, raw: string, permanent: boolean): Promise<number> {
    return this.change(() => {
      const entry = this.findVersion(subject, raw, permanent || raw !== 'latest');
      if (permanent && !entry.deleted)
        throw new RegistryHttpError(
          'VERSION_NOT_SOFT_DELETED',
          `Subject '${subject}' Version ${entry.version} was not deleted first before being permanently deleted`,
        );
      if (!permanent && entry.deleted)
        throw new RegistryHttpError(
          'VERSION_SOFT_DELETED',
          `Subject '${subject}' Version ${entry.version} was soft deleted. Set permanent=true to delete permanently`,
        );
      return {
        changes: [{ op: 'delete-version', subject, version: entry.version, permanent }],
        answer: entry.version,
        note: `${permanent ? 'permanently ' : ''}deleted subject ${subject} version ${entry.version}`,
      };
    });
  }

  globalLevel(): { compatibilityLevel: CompatibilityLevel } {
    return { compatibilityLevel: this.state.globalLevel };
  }

  subjectLevel(
    subject: string,
    defaultToGlobal: boolean,
  ): { compatibilityLevel: CompatibilityLevel } {
    const level =
      this.state.subjectLevel(subject) ?? (defaultToGlobal ? this.state.globalLevel : undefined);
    if (level === undefined)
      throw new RegistryHttpError(
        'SUBJECT_CONFIG_NOT_FOUND',
        `Subject '${subject}' does not have subject-level compatibility configured`,
      );
    return { compatibilityLevel: level };
  }

  setLevel(
    subject: string | null,
    requested: string,
  ): Promise<{ compatibility: CompatibilityLevel }> {
    const compatibility = parseCompatibilityLevel(requested);
    if (compatibility === undefined)
      throw new RegistryHttpError(
        'INVALID_COMPATIBILITY_LEVEL',
        `Invalid compatibility level ${JSON.stringify(requested)}. Valid values are ${COMPATIBILITY_LEVELS.join(', ')}`,
      );
    return this.change(() => ({
      changes: [{ op: 'config', subject, compatibility }],
      answer: { compatibility },
      note: `compatibility of ${subject ?? 'the registry'} set to ${compatibility}`,
    }));
  }

  deleteSubjectLevel(subject: string): Promise<{ compatibilityLevel: CompatibilityLevel }> {
    return this.change(() => {
      const answer = this.subjectLevel(subject, false);
      return { changes: [{ op: 'config', subject, compatibility: null }], answer };
    });
  }

  /** Tests a schema against one version, or (raw undefined) against the subject's level. */
  compatibility(
    subject: string,
    raw: string | undefined,
    body: SchemaBody,
  ): { is_compatible: boolean; messages: string[] } {
    const parsed = parseSchemaBody(body);
    const earlier =
      raw === undefined
        ? this.state.versions(subject, false)
        : [this.findVersion(subject, raw, false)];
    const messages = compatibilityProblems(
      this.state.effectiveLevel(subject),
      parsed.type,
      this.earlier(earlier),
    );
    return { is_compatible: messages.length === 0, messages };
  }
}
