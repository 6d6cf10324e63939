/**
 * The manifest of a restore point: one immutable JSON object per epoch of a disk, written
 * last, once every chunk it names exists. With it and an S3 client a disk can be restored
 * without extentlog (docs/s3-target.md shows how):
 *
 *   { "format": "extentlog-manifest", "version": 1,
 *     "feed": "vm1", "disk": "disk-0", "epoch": 7, "mode": "INCREMENTAL", "baseEpoch": 6,
 *     "sourceReference": "…", "digest": "<SyncCommit digest>", "extentCount": 12,
 *     "dataBytes": 49152, "committedAtMs": …, "createdAtMs": …,
 *     "diskSizeBytes": 68719476736, "chunkSizeBytes": 4194304,
 *     "encryption": null | { "algorithm": "AES-256-GCM", "keyId": "<16 hex>" },
 *     "chunks": [[0, "<64 hex>"], [1, "<64 hex>.gz"], [5, "<64 hex>.enc"], …] }
 *
 * `chunks` lists the present slots in ascending order; a slot not listed reads as zeros.
 * Slot i holds bytes [i × chunkSizeBytes, min((i + 1) × chunkSizeBytes, diskSizeBytes)),
 * and its object is `<prefix>chunks/<first two digits>/<name>`.
 */
import { TargetError } from '../errors.js';
import { ChunkMap } from './chunk-map.js';

export type EpochMode = 'FULL' | 'INCREMENTAL' | 'CONTINUOUS';

export interface ManifestEncryption {
  readonly algorithm: 'AES-256-GCM';
  readonly keyId: string;
}

export interface Manifest {
  readonly feed: string;
  readonly disk: string;
  readonly epoch: number;
  readonly mode: EpochMode;
  readonly baseEpoch: number | null;
  readonly sourceReference: string;
  readonly digest: string;
  readonly extentCount: number;
  readonly dataBytes: number;
  readonly committedAtMs: number;
  readonly createdAtMs: number;
  readonly diskSizeBytes: number;
  readonly chunkSizeBytes: number;
  readonly encryption: ManifestEncryption | null;
  readonly chunks: ChunkMap;
}

const FORMAT = 'extentlog-manifest';

/** JSON text, built piecewise so that a large disk's map does not need one big object tree. */
export function encodeManifest(manifest: Manifest): Buffer {
  const { chunks, ...header } = manifest;
  const head = JSON.stringify({ format: FORMAT, version: 1, ...header });
  const parts: string[] = [head.slice(0, -1), ',"chunks":['];
  let first = true;
  for (const [slot, name] of chunks.entries()) {
    parts.push(`${first ? '' : ','}\n[${slot},"${name}"]`);
    first = false;
  }
  parts.push(']}\n');
  return Buffer.from(parts.join(''), 'utf8');
}

function invalid(where: string, problem: string): TargetError {
  return new TargetError('EXTENTLOG_ERR_TARGET_MANIFEST', `manifest ${where}: ${problem}`, {
    details: { manifest: where },
  });
}

function field<T>(
  where: string,
  value: Record<string, unknown>,
  name: string,
  check: (v: unknown) => v is T,
  expected: string,
): T {
  const got = value[name];
  if (!check(got))
    throw invalid(where, `expected ${name} to be ${expected}, received ${JSON.stringify(got)}`);
  return got;
}

const isString = (v: unknown): v is string => typeof v === 'string';
const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;
const isPositive = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) > 0;
const isMode = (v: unknown): v is EpochMode =>
  v === 'FULL' || v === 'INCREMENTAL' || v === 'CONTINUOUS';
const isEpochOrNull = (v: unknown): v is number | null => v === null || isCount(v);

/** Parses and checks a manifest; `where` names it in errors (its key). */
export function decodeManifest(body: Buffer, where: string): Manifest {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch (error) {
    throw invalid(where, `not valid JSON (${(error as Error).message})`);
  }
  if (typeof parsed !== 'object' || parsed === null) throw invalid(where, 'not a JSON object');
  const value = parsed as Record<string, unknown>;
  if (value.format !== FORMAT || value.version !== 1)
    throw invalid(
      where,
      `expected format "${FORMAT}" version 1, received ${JSON.stringify(value.format)} version ${JSON.stringify(value.version)}`,
    );
  const diskSizeBytes = field(where, value, 'diskSizeBytes', isCount, 'a byte count');
  const chunkSizeBytes = field(where, value, 'chunkSizeBytes', isPositive, 'a positive integer');
  const encryption = value.encryption ?? null;
  if (
    encryption !== null &&
    ((encryption as ManifestEncryption).algorithm !== 'AES-256-GCM' ||
      !/^[0-9a-f]{16}$/.test(String((encryption as ManifestEncryption).keyId)))
  )
    throw invalid(where, `unsupported encryption ${JSON.stringify(encryption)}`);
  const chunks = new ChunkMap(ChunkMap.slotsFor(diskSizeBytes, chunkSizeBytes));
  const list = value.chunks;
  if (!Array.isArray(list)) throw invalid(where, 'expected chunks to be an array');
  let previous = -1;
  for (const entry of list) {
    const [slot, name] = Array.isArray(entry) ? (entry as unknown[]) : [];
    if (!isCount(slot) || slot <= previous || slot >= chunks.slotCount || !isString(name))
      throw invalid(
        where,
        `chunk entry ${JSON.stringify(entry)} is not [slot, name] with slots ascending below ${chunks.slotCount}`,
      );
    try {
      chunks.set(slot, name);
    } catch {
      throw invalid(where, `chunk entry ${JSON.stringify(entry)} does not name a chunk`);
    }
    previous = slot;
  }
  return {
    feed: field(where, value, 'feed', isString, 'a string'),
    disk: field(where, value, 'disk', isString, 'a string'),
    epoch: field(where, value, 'epoch', isCount, 'an epoch number'),
    mode: field(where, value, 'mode', isMode, 'FULL, INCREMENTAL or CONTINUOUS'),
    baseEpoch: field(where, value, 'baseEpoch', isEpochOrNull, 'an epoch number or null'),
    sourceReference: field(where, value, 'sourceReference', isString, 'a string'),
    digest: field(where, value, 'digest', isString, 'a string'),
    extentCount: field(where, value, 'extentCount', isCount, 'a count'),
    dataBytes: field(where, value, 'dataBytes', isCount, 'a byte count'),
    committedAtMs: field(where, value, 'committedAtMs', isCount, 'a time in ms'),
    createdAtMs: field(where, value, 'createdAtMs', isCount, 'a time in ms'),
    diskSizeBytes,
    chunkSizeBytes,
    encryption: encryption as ManifestEncryption | null,
    chunks,
  };
}

/**
 * One journal segment of an open epoch (`pending/…/<epoch>/<seq>.json`): the slots the
 * epoch changed since the previous segment, a null name for a slot that became zeros.
 */
export interface PendingSegment {
  readonly epoch: number;
  readonly mode: EpochMode;
  readonly baseEpoch: number | null;
  readonly diskSizeBytes: number;
  readonly chunkSizeBytes: number;
  readonly changes: readonly (readonly [number, string | null])[];
}

const PENDING_FORMAT = 'extentlog-pending';

export function encodePendingSegment(segment: PendingSegment): Buffer {
  return Buffer.from(JSON.stringify({ format: PENDING_FORMAT, version: 1, ...segment }), 'utf8');
}

export function decodePendingSegment(body: Buffer, where: string): PendingSegment {
  let value: Record<string, unknown>;
  try {
    value = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
  } catch (error) {
    throw invalid(where, `not valid JSON (${(error as Error).message})`);
  }
  if (value?.format !== PENDING_FORMAT || value.version !== 1)
    throw invalid(where, `expected format "${PENDING_FORMAT}" version 1`);
  const changes = value.changes;
  if (
    !Array.isArray(changes) ||
    !changes.every(
      (entry) =>
        Array.isArray(entry) && isCount(entry[0]) && (entry[1] === null || isString(entry[1])),
    )
  )
    throw invalid(where, 'expected changes to be [slot, name | null] pairs');
  return {
    epoch: field(where, value, 'epoch', isCount, 'an epoch number'),
    mode: field(where, value, 'mode', isMode, 'FULL, INCREMENTAL or CONTINUOUS'),
    baseEpoch: field(where, value, 'baseEpoch', isEpochOrNull, 'an epoch number or null'),
    diskSizeBytes: field(where, value, 'diskSizeBytes', isCount, 'a byte count'),
    chunkSizeBytes: field(where, value, 'chunkSizeBytes', isPositive, 'a positive integer'),
    changes: changes as [number, string | null][],
  };
}
