/**
 * Plays the feed's part for source tests: iterates a cycle's changes, reads every WRITE
 * through the cycle's reader and, when given a replica path, applies the extents to it with
 * plain fs calls (WRITE → pwrite, ZERO/DISCARD → written zeros), so a test can compare the
 * replica with the source byte for byte.
 */
import { open } from 'node:fs/promises';
import type { ChangeSet, ExtentOp } from '../../producers/source.js';

export interface SeenExtent {
  readonly offsetBytes: number;
  readonly lengthBytes: number;
  readonly op: ExtentOp;
}

export async function drainChangeSet(
  changeSet: ChangeSet,
  replicaPath?: string,
): Promise<SeenExtent[]> {
  const seen: SeenExtent[] = [];
  const replica = replicaPath === undefined ? null : await open(replicaPath, 'r+');
  try {
    if (replica) await replica.truncate(changeSet.disk.sizeBytes);
    for await (const item of changeSet.changes()) {
      if (item.kind !== 'extent') continue;
      const { offsetBytes, lengthBytes, op } = item;
      seen.push({ offsetBytes, lengthBytes, op });
      const data =
        op === 'WRITE'
          ? await changeSet.reader.read(offsetBytes, lengthBytes)
          : Buffer.alloc(lengthBytes);
      if (data.length !== lengthBytes)
        throw new Error(`reader returned ${data.length} bytes for ${lengthBytes}`);
      if (replica) await replica.write(data, 0, lengthBytes, offsetBytes);
    }
  } finally {
    await replica?.close();
  }
  return seen;
}

/** Coalesced total of extents by op, for compact assertions. */
export function bytesByOp(extents: readonly SeenExtent[]): Record<ExtentOp, number> {
  const totals: Record<ExtentOp, number> = { WRITE: 0, ZERO: 0, DISCARD: 0 };
  for (const extent of extents) totals[extent.op] += extent.lengthBytes;
  return totals;
}
