/**
 * Drives an S3 target like the replay engine does (beginEpoch, apply, flush, commitEpoch)
 * and keeps a byte-exact model of the disk next to it, so tests can compare every restore
 * point with what the disk held.
 */
import { createHash } from 'node:crypto';
import type { ChunkStore } from '../../consumers/s3/chunk-store.js';
import { readManifest } from '../../consumers/s3/manifest-index.js';
import type { ObjectStore } from '../../consumers/s3/object-store.js';
import { restoreImage } from '../../consumers/s3/restore-image.js';
import type { ApplyExtent, EpochBegin, TargetDisk } from '../../consumers/target.js';
import { patternBytes } from './image-files.js';

export class DiskModel {
  bytes: Buffer;
  constructor(sizeBytes: number) {
    this.bytes = Buffer.alloc(sizeBytes);
  }
  apply(extent: ApplyExtent): void {
    if (extent.op === 'WRITE') extent.data!.copy(this.bytes, extent.offsetBytes);
    else this.bytes.fill(0, extent.offsetBytes, extent.offsetBytes + extent.lengthBytes);
  }
  resize(sizeBytes: number): void {
    const next = Buffer.alloc(sizeBytes);
    this.bytes.copy(next, 0, 0, Math.min(sizeBytes, this.bytes.length));
    this.bytes = next;
  }
  sha256(): string {
    return createHash('sha256').update(this.bytes).digest('hex');
  }
}

/** A deterministic pseudo-random generator (xorshift32). */
export function prng(seed: number): () => number {
  let state = (seed * 2654435761) >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return state / 0x100000000;
  };
}

/** `count` random extents on a disk of `sizeBytes`: mostly writes, some zero and discard. */
export function randomExtents(
  sizeBytes: number,
  count: number,
  seed: number,
  maxLengthBytes = 64 * 1024,
): ApplyExtent[] {
  const random = prng(seed);
  const extents: ApplyExtent[] = [];
  for (let index = 0; index < count; index++) {
    const offsetBytes = Math.floor(random() * (sizeBytes - 1));
    const lengthBytes = Math.max(
      1,
      Math.min(sizeBytes - offsetBytes, Math.floor(random() * maxLengthBytes)),
    );
    const pick = random();
    const op = pick < 0.7 ? 'WRITE' : pick < 0.85 ? 'ZERO' : 'DISCARD';
    extents.push({
      offsetBytes,
      lengthBytes,
      op,
      data: op === 'WRITE' ? patternBytes(lengthBytes, seed * 1000 + index) : null,
    });
  }
  return extents;
}

export function epochBegin(
  epoch: number,
  diskSizeBytes: number,
  mode: EpochBegin['mode'] = epoch === 1 ? 'FULL' : 'INCREMENTAL',
): EpochBegin {
  return {
    epoch,
    mode,
    diskSizeBytes,
    baseEpoch: mode === 'FULL' ? null : epoch - 1,
    sourceReference: `ref-${epoch}`,
  };
}

/** Applies a whole epoch and commits it; returns the manifest location. */
export async function replayEpoch(
  disk: TargetDisk,
  model: DiskModel,
  begin: EpochBegin,
  extents: readonly ApplyExtent[],
  flushEvery = 0,
): Promise<string> {
  await disk.beginEpoch(begin);
  if (model.bytes.length !== begin.diskSizeBytes) model.resize(begin.diskSizeBytes);
  for (const [index, extent] of extents.entries()) {
    await disk.apply(extent);
    model.apply(extent);
    if (flushEvery > 0 && index % flushEvery === flushEvery - 1) await disk.flush();
  }
  await disk.flush();
  const { location } = await disk.commitEpoch({
    epoch: begin.epoch,
    extentCount: extents.length,
    bytes: extents.reduce(
      (sum, extent) => sum + (extent.op === 'WRITE' ? extent.lengthBytes : 0),
      0,
    ),
    digest: `digest-${begin.epoch}`,
    sourceReference: begin.sourceReference,
    committedAtMs: 1000 * begin.epoch,
  });
  return location!;
}

/** The sha256 of the disk a manifest describes, every chunk read and checked. */
export async function manifestSha256(
  store: ObjectStore,
  chunks: ChunkStore,
  key: string,
): Promise<string> {
  const manifest = await readManifest(store, key);
  return (await restoreImage({ chunks, manifest, where: key, outputPath: null })).sha256;
}
