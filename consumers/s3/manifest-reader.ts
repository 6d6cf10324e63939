/**
 * A restore point of the S3 target as a readable disk (`RestorePointReader`), for
 * `extentlog verify` and `restore`: reads come from the chunk objects the manifest names,
 * absent slots read as zeros and are reported as holes by `dataRanges()`. Sequential
 * readers are served ahead: the next `readAheadChunks` present slots are fetched in
 * parallel while the current one is consumed.
 */
import { TargetError } from '../errors.js';
import { readRangeProblem } from '../read-range.js';
import type { DiskRange, RestorePointReader } from '../target.js';
import type { ChunkStore } from './chunk-store.js';
import type { Manifest } from './manifest.js';
import { checkManifestKey } from './manifest-index.js';

export interface ManifestReaderOptions {
  readonly chunks: ChunkStore;
  readonly manifest: Manifest;
  /** The manifest's key, for messages. */
  readonly where: string;
  readonly readAheadChunks?: number;
}

export function openManifestReader(options: ManifestReaderOptions): RestorePointReader {
  const { chunks, manifest, where } = options;
  checkManifestKey(manifest, chunks.codec, where);
  const readAhead = options.readAheadChunks ?? 4;
  const size = manifest.chunkSizeBytes;
  const sizeBytes = manifest.diskSizeBytes;
  const slotBytes = (slot: number) => Math.min(size, sizeBytes - slot * size);
  const cache = new Map<number, Promise<Buffer>>();

  function fetch(slot: number): Promise<Buffer> | null {
    const name = manifest.chunks.get(slot);
    if (name === null) return null;
    let pending = cache.get(slot);
    if (pending === undefined) {
      pending = chunks.read(name, slotBytes(slot), `${where}, slot ${slot}`);
      pending.catch(() => undefined);
      cache.set(slot, pending);
    }
    return pending;
  }

  function prefetch(slot: number): void {
    for (const old of cache.keys()) if (old < slot) cache.delete(old);
    let ahead = 0;
    for (let next = slot + 1; next < manifest.chunks.slotCount && ahead < readAhead; next++)
      if (fetch(next) !== null) ahead++;
  }

  async function read(offsetBytes: number, lengthBytes: number): Promise<Buffer> {
    const problem = readRangeProblem(offsetBytes, lengthBytes, sizeBytes);
    if (problem !== null)
      throw new TargetError('EXTENTLOG_ERR_TARGET_READ', `${where}: ${problem}`);
    const out = Buffer.alloc(lengthBytes);
    const endBytes = offsetBytes + lengthBytes;
    for (let slot = Math.floor(offsetBytes / size); slot * size < endBytes; slot++) {
      const pending = fetch(slot);
      prefetch(slot);
      if (pending === null) continue;
      const data = await pending;
      const from = Math.max(offsetBytes, slot * size);
      const to = Math.min(endBytes, slot * size + data.length);
      data.copy(out, from - offsetBytes, from - slot * size, to - slot * size);
    }
    return out;
  }

  async function* dataRanges(): AsyncIterable<DiskRange> {
    let open: { startBytes: number; endBytes: number } | null = null;
    for (const [slot] of manifest.chunks.entries()) {
      const startBytes = slot * size;
      const endBytes = startBytes + slotBytes(slot);
      if (open !== null && open.endBytes === startBytes) open.endBytes = endBytes;
      else {
        if (open !== null) yield open;
        open = { startBytes, endBytes };
      }
    }
    if (open !== null) yield open;
  }

  return {
    sizeBytes,
    read,
    dataRanges,
    close: async () => cache.clear(),
  };
}
