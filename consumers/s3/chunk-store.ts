/**
 * Reading and writing chunk objects: names and bodies from the codec, keys from the
 * layout, objects from the store.
 *
 * Writing is create-if-absent by content address (a HEAD first), so identical chunks are
 * stored once across disks and restore points. A chunk that already exists but is older
 * than `refreshAfterMs` is touched (its modification time set to now) instead of trusted
 * as it is: it may be garbage that no manifest references, and a garbage collection only
 * deletes chunks older than its grace period (see garbage-collector.ts for the protocol).
 */
import { TargetError } from '../errors.js';
import type { BucketLayout } from './bucket-layout.js';
import type { ChunkCodec } from './chunk-codec.js';
import type { ObjectStore } from './object-store.js';

export type ChunkWrite = 'uploaded' | 'present' | 'touched';

export interface ChunkStore {
  readonly codec: ChunkCodec;
  /** Existing chunks older than this are touched before they are relied on. */
  readonly refreshAfterMs: number;
  /** The plaintext of chunk `name`, which must be `expectedBytes` long. */
  read(name: string, expectedBytes: number, where: string): Promise<Buffer>;
  /** Makes sure chunk `name` (of `plaintext`) exists; 'touched' needs settling (see above). */
  write(name: string, plaintext: Buffer): Promise<ChunkWrite>;
}

export interface ChunkStoreOptions {
  readonly store: ObjectStore;
  readonly layout: BucketLayout;
  readonly codec: ChunkCodec;
  /** An existing chunk older than this is touched before it is relied on. */
  readonly refreshAfterMs: number;
  /** Plain (unencoded) chunks larger than this are read with parallel ranged GETs. */
  readonly rangeBytes?: number;
  readonly now?: () => number;
}

export function createChunkStore(options: ChunkStoreOptions): ChunkStore {
  const { store, layout, codec, refreshAfterMs } = options;
  const rangeBytes = options.rangeBytes ?? 8 * 1024 * 1024;
  const now = options.now ?? Date.now;

  async function fetchBody(key: string, name: string, expectedBytes: number) {
    const plain = !name.includes('.');
    if (!plain || expectedBytes <= rangeBytes) return store.get(key);
    const head = await store.head(key);
    if (head === null) return null;
    if (head.sizeBytes !== expectedBytes) return store.get(key); // decode reports the length
    const ranges: Promise<Buffer>[] = [];
    for (let offsetBytes = 0; offsetBytes < expectedBytes; offsetBytes += rangeBytes)
      ranges.push(
        store.getRange(key, offsetBytes, Math.min(rangeBytes, expectedBytes - offsetBytes)),
      );
    return Buffer.concat(await Promise.all(ranges));
  }

  return {
    codec,
    refreshAfterMs,
    async read(name, expectedBytes, where) {
      const key = layout.chunkKey(name);
      const body = await fetchBody(key, name, expectedBytes);
      if (body === null)
        throw new TargetError(
          'EXTENTLOG_ERR_TARGET_CHUNK_MISSING',
          `chunk ${store.url}${key} (${where}) does not exist`,
          { details: { chunk: name, key, where } },
        );
      return codec.decode(name, body, expectedBytes, `${where}, ${store.url}${key}`);
    },
    async write(name, plaintext) {
      const key = layout.chunkKey(name);
      const head = await store.head(key);
      if (head !== null && head.lastModifiedMs >= now() - refreshAfterMs) return 'present';
      if (head !== null && (await store.touch(key)) !== null) return 'touched';
      // A plain chunk's name is its body's sha256: the request is signed with it as it is.
      await store.put(
        key,
        await codec.encode(name, plaintext),
        name.includes('.') ? {} : { sha256Hex: name },
      );
      return 'uploaded';
    },
  };
}
