/**
 * What changed, from NBD block status (proto.md "Metadata querying", NBD_CMD_BLOCK_STATUS):
 *
 * - FULL: `base:allocation` over the whole export — ranges that read as zeros
 *   (NBD_STATE_ZERO) become ZERO extents and are not read; everything else is WRITE. The
 *   extents cover the whole disk, so a target that held other data ends up equal.
 * - INCREMENTAL: `qemu:dirty-bitmap:NAME` (QEMU docs/interop/nbd.rst; NBD_STATE_DIRTY) —
 *   only dirty ranges, as ZERO where `base:allocation` says they read as zeros, else WRITE.
 *
 * Status comes in windows; the contexts' descriptors are intersected into segments whose
 * flags are constant for every context. Extents are aligned to the disk's block size.
 */
import { BlockAligner } from '../block-aligner.js';
import type { ChangedExtent, DiskInfo, ExtentOp } from '../source.js';
import { NbdError } from './errors.js';
import type { NbdClient } from './nbd-client.js';
import { BASE_ALLOCATION, NBD_STATE_DIRTY, NBD_STATE_ZERO } from './nbd-constants.js';

export interface StatusSegment {
  readonly offsetBytes: number;
  readonly lengthBytes: number;
  /** Flags of each context, in the order asked for. */
  readonly flags: readonly number[];
}

const GiB = 1024 * 1024 * 1024;

/** Segments of [startBytes, endBytes) with constant flags in every context. */
export async function* scanStatus(
  client: NbdClient,
  contexts: readonly string[],
  startBytes: number,
  endBytes: number,
  windowBytes = GiB,
): AsyncGenerator<StatusSegment> {
  let cursor = startBytes;
  while (cursor < endBytes) {
    const status = await client.blockStatus(cursor, Math.min(windowBytes, endBytes - cursor));
    const lists = contexts.map((name) => {
      const descriptors = status.get(name);
      if (descriptors === undefined || descriptors.length === 0)
        throw new NbdError(
          'EXTENTLOG_ERR_NBD_PROTOCOL',
          `NBD server ${client.peer} sent no block status for context '${name}' at offset ${cursor}`,
        );
      return descriptors;
    });
    const reached = Math.min(
      ...lists.map(
        (list) => list[list.length - 1]!.offsetBytes + list[list.length - 1]!.lengthBytes,
      ),
    );
    const next = lists.map(() => 0);
    let position = cursor;
    while (position < reached) {
      let segmentEnd = reached;
      for (const [index, list] of lists.entries()) {
        const descriptor = list[next[index]!]!;
        segmentEnd = Math.min(segmentEnd, descriptor.offsetBytes + descriptor.lengthBytes);
      }
      yield {
        offsetBytes: position,
        lengthBytes: segmentEnd - position,
        flags: lists.map((list, index) => list[next[index]!]!.flags),
      };
      for (const [index, list] of lists.entries()) {
        const descriptor = list[next[index]!]!;
        if (descriptor.offsetBytes + descriptor.lengthBytes === segmentEnd) next[index]! += 1;
      }
      position = segmentEnd;
    }
    cursor = reached;
  }
}

type ExtentExtra = Pick<ChangedExtent, 'issuedAtNs' | 'completedAtNs' | 'provenance'>;

/** Extents of the segments `classify` names an op for (null: unchanged), block-aligned. */
async function* statusExtents(
  client: NbdClient,
  disk: DiskInfo,
  contexts: readonly string[],
  classify: (flags: readonly number[]) => ExtentOp | null,
  extra: ExtentExtra,
): AsyncGenerator<ChangedExtent> {
  const aligner = new BlockAligner(disk.blockSizeBytes, disk.sizeBytes, extra);
  for await (const segment of scanStatus(client, contexts, 0, disk.sizeBytes)) {
    const op = classify(segment.flags);
    if (op === null) continue;
    aligner.add(op, segment.offsetBytes, segment.offsetBytes + segment.lengthBytes);
    yield* aligner.take();
  }
  yield* aligner.finish();
}

/** FULL: the whole disk, zeros as ZERO (when the export offers base:allocation). */
export function allocationExtents(
  client: NbdClient,
  disk: DiskInfo,
  extra: ExtentExtra = {},
): AsyncGenerator<ChangedExtent> {
  if (!client.metaContexts.has(BASE_ALLOCATION)) {
    const aligner = new BlockAligner(disk.blockSizeBytes, disk.sizeBytes, extra);
    aligner.add('WRITE', 0, disk.sizeBytes);
    return (async function* () {
      yield* aligner.finish();
    })();
  }
  return statusExtents(
    client,
    disk,
    [BASE_ALLOCATION],
    ([allocation]) => ((allocation! & NBD_STATE_ZERO) !== 0 ? 'ZERO' : 'WRITE'),
    extra,
  );
}

/** INCREMENTAL: the ranges `bitmapContext` marks dirty. */
export function dirtyExtents(
  client: NbdClient,
  disk: DiskInfo,
  bitmapContext: string,
  extra: ExtentExtra = {},
): AsyncGenerator<ChangedExtent> {
  const withAllocation = client.metaContexts.has(BASE_ALLOCATION);
  return statusExtents(
    client,
    disk,
    withAllocation ? [bitmapContext, BASE_ALLOCATION] : [bitmapContext],
    ([dirty, allocation]) => {
      if ((dirty! & NBD_STATE_DIRTY) === 0) return null;
      return withAllocation && (allocation! & NBD_STATE_ZERO) !== 0 ? 'ZERO' : 'WRITE';
    },
    extra,
  );
}
