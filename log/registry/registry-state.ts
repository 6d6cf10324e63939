/**
 * The registry's model, rebuilt on start by replaying journal changes and kept in memory:
 * schemas by global id, the versions of each subject (soft-deleted ones flagged), and
 * compatibility levels. Ids are never reused: the next id is one above the highest ever
 * journaled, and an identical schema (same canonical form) keeps its first id everywhere.
 */
import type avro from 'avsc';
import {
  DEFAULT_COMPATIBILITY,
  parseAvroSchema,
  type CompatibilityLevel,
} from './avro-compatibility.js';

export type RegistryChange =
  | { readonly op: 'schema'; readonly id: number; readonly schema: string }
  | {
      readonly op: 'version';
      readonly subject: string;
      readonly version: number;
      readonly id: number;
    }
  | {
      readonly op: 'delete-version';
      readonly subject: string;
      readonly version: number;
      readonly permanent: boolean;
    }
  | {
      readonly op: 'config';
      /** null: the global level. */
      readonly subject: string | null;
      /** null: remove the subject's own level. */
      readonly compatibility: CompatibilityLevel | null;
    };

export interface StoredSchema {
  readonly id: number;
  readonly canonical: string;
  readonly type: avro.Type;
}

export interface SubjectVersion {
  readonly version: number;
  readonly id: number;
  readonly deleted: boolean;
}

export class RegistryState {
  private readonly schemas = new Map<number, StoredSchema>();
  private readonly idsByCanonical = new Map<string, number>();
  /** Versions of each subject in ascending order. */
  private readonly subjectVersions = new Map<string, SubjectVersion[]>();
  private readonly subjectLevels = new Map<string, CompatibilityLevel>();
  private highestId = 0;
  globalLevel: CompatibilityLevel = DEFAULT_COMPATIBILITY;

  apply(change: RegistryChange): void {
    switch (change.op) {
      case 'schema': {
        const { type, canonical } = parseAvroSchema(change.schema);
        this.schemas.set(change.id, { id: change.id, canonical, type });
        this.idsByCanonical.set(canonical, change.id);
        this.highestId = Math.max(this.highestId, change.id);
        return;
      }
      case 'version': {
        const versions = this.subjectVersions.get(change.subject) ?? [];
        versions.push({ version: change.version, id: change.id, deleted: false });
        versions.sort((a, b) => a.version - b.version);
        this.subjectVersions.set(change.subject, versions);
        return;
      }
      case 'delete-version': {
        const versions = this.subjectVersions.get(change.subject) ?? [];
        const kept = change.permanent
          ? versions.filter((entry) => entry.version !== change.version)
          : versions.map((entry) =>
              entry.version === change.version ? { ...entry, deleted: true } : entry,
            );
        if (kept.length === 0) this.subjectVersions.delete(change.subject);
        else this.subjectVersions.set(change.subject, kept);
        return;
      }
      case 'config':
        if (change.subject === null)
          this.globalLevel = change.compatibility ?? DEFAULT_COMPATIBILITY;
        else if (change.compatibility === null) this.subjectLevels.delete(change.subject);
        else this.subjectLevels.set(change.subject, change.compatibility);
        return;
    }
  }

  nextId(): number {
    return this.highestId + 1;
  }

  schema(id: number): StoredSchema | undefined {
    return this.schemas.get(id);
  }

  idOf(canonical: string): number | undefined {
    return this.idsByCanonical.get(canonical);
  }

  /** A schema is served while some subject version (soft-deleted ones too) refers to it. */
  isReferenced(id: number): boolean {
    for (const versions of this.subjectVersions.values())
      if (versions.some((entry) => entry.id === id)) return true;
    return false;
  }

  versions(subject: string, includeDeleted: boolean): readonly SubjectVersion[] {
    const versions = this.subjectVersions.get(subject) ?? [];
    return includeDeleted ? versions : versions.filter((entry) => !entry.deleted);
  }

  subjects(includeDeleted: boolean): string[] {
    return [...this.subjectVersions.keys()]
      .filter((subject) => this.versions(subject, includeDeleted).length > 0)
      .sort();
  }

  /** Subject-version pairs that use a schema. */
  usages(id: number, includeDeleted: boolean): { subject: string; version: number }[] {
    return this.subjects(includeDeleted).flatMap((subject) =>
      this.versions(subject, includeDeleted)
        .filter((entry) => entry.id === id)
        .map(({ version }) => ({ subject, version })),
    );
  }

  subjectLevel(subject: string): CompatibilityLevel | undefined {
    return this.subjectLevels.get(subject);
  }

  effectiveLevel(subject: string): CompatibilityLevel {
    return this.subjectLevels.get(subject) ?? this.globalLevel;
  }
}
