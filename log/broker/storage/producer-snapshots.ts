/**
 * Producer-state snapshot files of a partition: `<offset, 20 digits>.snapshot` holds the
 * state after every batch below that offset (producer-state.ts encodes it). One is written
 * when a segment closes (once it is durable) and one at clean shutdown; the newest two are
 * kept, so a damaged newest one still leaves a fallback.
 */
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { unlinkDurably, writeFileAtomic } from './durable-file.js';
import { segmentFileStem } from './segment.js';

export const SNAPSHOT_SUFFIX = '.snapshot';
const SNAPSHOTS_KEPT = 2;

export function snapshotFileName(offset: number): string {
  return segmentFileStem(offset) + SNAPSHOT_SUFFIX;
}

export async function writeProducerSnapshot(
  directory: string,
  offset: number,
  snapshot: Buffer,
): Promise<void> {
  await writeFileAtomic(path.join(directory, snapshotFileName(offset)), snapshot);
  const older = (await readdir(directory))
    .filter((name) => name.endsWith(SNAPSHOT_SUFFIX))
    .sort()
    .slice(0, -SNAPSHOTS_KEPT);
  if (older.length > 0) await unlinkDurably(directory, older);
}
