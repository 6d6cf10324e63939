/**
 * How the QEMU source rotates persistent dirty bitmaps, and when it cannot trust them.
 *
 * Each committed cycle leaves one bitmap of ours (`extentlog-<id>`) recording every write
 * since that cycle's point in time; its name is the cycle's source reference
 * (`qemu-bitmap:<name>@<size>`). The next cycle adds a fresh bitmap at its own point in time
 * and reads what the old one marked; after its SyncCommit the old one is removed.
 *
 *   committed: [A recording]
 *   cycle:     [A frozen/recording] [B recording]   read A's dirty ranges at B's birth
 *   commit:                         [B recording]   reference = B
 *   abort:     [A recording ∪ B]                    B merged back into A, removed
 *
 * A bitmap that is missing (the VM restarted without persistent bitmaps, or it was removed),
 * marked inconsistent (QEMU did not shut down cleanly), stopped recording, or a disk that
 * shrank means changes may have been missed: the cycle is a FULL re-baseline that says why.
 */

export interface BitmapState {
  readonly name: string;
  readonly granularityBytes: number;
  /** Enabled: records writes. */
  readonly recording: boolean;
  /** Not saved cleanly (qemu-img 'in-use', QMP 'inconsistent'): it may miss writes. */
  readonly inconsistent: boolean;
}

export interface BitmapReference {
  readonly bitmap: string;
  readonly sizeBytes: number;
}

export interface CyclePlan {
  readonly mode: 'FULL' | 'INCREMENTAL';
  /** INCREMENTAL: the bitmap whose dirty ranges this cycle reads. */
  readonly base: string | null;
  /** Bitmaps of ours that recorded while `base` was frozen by an interrupted cycle. */
  readonly mergeIntoBase: readonly string[];
  /** Bitmaps of ours to remove before the cycle (unusable, or leftovers of aborted cycles). */
  readonly remove: readonly string[];
  readonly rebaselineReason?: string;
}

export const BITMAP_PREFIX = 'extentlog-';
const REFERENCE_PREFIX = 'qemu-bitmap:';

export function isOurBitmap(name: string): boolean {
  return name.startsWith(BITMAP_PREFIX);
}

export function bitmapReference(bitmap: string, sizeBytes: number): string {
  return `${REFERENCE_PREFIX}${bitmap}@${sizeBytes}`;
}

export function parseBitmapReference(reference: string): BitmapReference | null {
  const match = /^qemu-bitmap:(extentlog-[A-Za-z0-9-]+)@(\d+)$/.exec(reference);
  if (match === null) return null;
  return { bitmap: match[1]!, sizeBytes: Number(match[2]) };
}

export function planCycle(input: {
  /** The last committed reference, or null for a first (or requested) FULL. */
  readonly since: { readonly epoch: number; readonly reference: string } | null;
  readonly bitmaps: readonly BitmapState[];
  readonly sizeBytes: number;
  /** Names the image or node, for reasons: 'image /vm/disk.qcow2', 'node disk0 of /run/vm.qmp'. */
  readonly where: string;
}): CyclePlan {
  const { since, where } = input;
  const ours = input.bitmaps.filter((bitmap) => isOurBitmap(bitmap.name));
  const unusable = ours.filter((bitmap) => bitmap.inconsistent).map((bitmap) => bitmap.name);
  const full = (reason?: string): CyclePlan => ({
    mode: 'FULL',
    base: null,
    mergeIntoBase: [],
    remove: unusable,
    ...(reason === undefined ? {} : { rebaselineReason: `${reason}; reading the whole disk` }),
  });
  if (since === null) return full();
  const reference = parseBitmapReference(since.reference);
  if (reference === null)
    return full(
      `the committed reference '${since.reference}' (epoch ${since.epoch}) is not a QEMU dirty bitmap of extentlog`,
    );
  const base = ours.find((bitmap) => bitmap.name === reference.bitmap);
  if (base === undefined)
    return full(
      `dirty bitmap ${reference.bitmap} of epoch ${since.epoch} is gone from ${where} (the VM restarted without persistent bitmaps or crashed before saving it, the image was replaced, or the bitmap was removed)`,
    );
  if (base.inconsistent)
    return full(
      `dirty bitmap ${reference.bitmap} of ${where} is marked inconsistent (QEMU did not save it cleanly: a crash or kill)`,
    );
  if (input.sizeBytes < reference.sizeBytes)
    return full(
      `the disk shrank from ${reference.sizeBytes} to ${input.sizeBytes} bytes since epoch ${since.epoch}`,
    );
  const others = ours.filter((bitmap) => bitmap.name !== base.name && !bitmap.inconsistent);
  let mergeIntoBase: string[] = [];
  if (!base.recording) {
    // Frozen by a cycle that never finished: the bitmaps it added hold what came after.
    mergeIntoBase = others.filter((bitmap) => bitmap.recording).map((bitmap) => bitmap.name);
    if (mergeIntoBase.length === 0)
      return full(
        `dirty bitmap ${reference.bitmap} of ${where} stopped recording (it was disabled outside extentlog)`,
      );
  }
  return {
    mode: 'INCREMENTAL',
    base: base.name,
    mergeIntoBase,
    remove: [...unusable, ...others.map((bitmap) => bitmap.name)],
  };
}

/** A fresh bitmap name: time-ordered, unique. */
export function newBitmapName(nowMs: number, random: string): string {
  return `${BITMAP_PREFIX}${nowMs.toString(36)}-${random}`;
}
