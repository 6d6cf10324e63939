/**
 * Restore points (value schema `restore-point.avsc`) live in the compacted topic
 * `<prefix>.restore-points`, keyed `<target>/<feed>/<disk>` (UTF-8) so that compaction keeps
 * the latest one per target and disk. Target and feed names cannot contain '/'; the disk id
 * may, since it comes last.
 */
import { SchemaError } from './errors.js';

export interface RestorePoint {
  readonly target: string;
  readonly feed: string;
  readonly disk: string;
  readonly epoch: number;
  readonly sourceReference: string;
  /** The SyncCommit digest of the epoch. */
  readonly digest: string;
  readonly diskSizeBytes: number;
  /** When the source committed the epoch. */
  readonly committedAtMs: number;
  /** When the target made all of the epoch durable. */
  readonly durableAtMs: number;
  /** Where the target keeps the point (manifest key, snapshot id, …), if anywhere. */
  readonly location: string | null;
}

export interface RestorePointKeyParts {
  readonly target: string;
  readonly feed: string;
  readonly disk: string;
}

export function restorePointKey({ target, feed, disk }: RestorePointKeyParts): Buffer {
  for (const [name, value] of [
    ['target', target],
    ['feed', feed],
  ] as const) {
    if (value === '' || value.includes('/'))
      throw new SchemaError(
        'EXTENTLOG_ERR_SCHEMA_INVALID_RECORD',
        `restore point ${name} ${JSON.stringify(value)}: expected a non-empty name without '/', as the key is <target>/<feed>/<disk>`,
      );
  }
  if (disk === '')
    throw new SchemaError(
      'EXTENTLOG_ERR_SCHEMA_INVALID_RECORD',
      'restore point disk: expected a non-empty disk id, received an empty string',
    );
  return Buffer.from(`${target}/${feed}/${disk}`, 'utf8');
}

export function parseRestorePointKey(key: Buffer): RestorePointKeyParts {
  const text = key.toString('utf8');
  const first = text.indexOf('/');
  const second = first < 0 ? -1 : text.indexOf('/', first + 1);
  if (first <= 0 || second <= first + 1 || second === text.length - 1)
    throw new SchemaError(
      'EXTENTLOG_ERR_SCHEMA_INVALID_RECORD',
      `restore point key ${JSON.stringify(text)}: expected <target>/<feed>/<disk>`,
    );
  return {
    target: text.slice(0, first),
    feed: text.slice(first + 1, second),
    disk: text.slice(second + 1),
  };
}
