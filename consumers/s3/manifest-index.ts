/** Finding manifests in the bucket: by listing, as the bucket is the source of truth. */
import { TargetError } from '../errors.js';
import { parseManifestKey, type BucketLayout, type ManifestKeyParts } from './bucket-layout.js';
import type { ChunkCodec } from './chunk-codec.js';
import { decodeManifest, type Manifest } from './manifest.js';
import type { ObjectStore } from './object-store.js';

export interface ManifestEntry extends ManifestKeyParts {
  readonly key: string;
  readonly sizeBytes: number;
  readonly lastModifiedMs: number;
}

/** Every manifest (of one feed, or one disk), in key order: by feed, disk, then epoch. */
export async function listManifests(
  store: ObjectStore,
  layout: BucketLayout,
  feed?: string,
  diskId?: string,
): Promise<ManifestEntry[]> {
  const entries: ManifestEntry[] = [];
  for await (const object of store.list(layout.manifestsPrefix(feed, diskId))) {
    const parts = parseManifestKey(layout, object.key);
    if (parts !== null)
      entries.push({
        ...parts,
        key: object.key,
        sizeBytes: object.sizeBytes,
        lastModifiedMs: object.lastModifiedMs,
      });
  }
  return entries;
}

export async function readManifest(store: ObjectStore, key: string): Promise<Manifest> {
  const body = await store.get(key);
  if (body === null)
    throw new TargetError(
      'EXTENTLOG_ERR_TARGET_POINT_UNAVAILABLE',
      `manifest ${store.url}${key} does not exist (removed by retention, or never written)`,
      { details: { key } },
    );
  return decodeManifest(body, `${store.url}${key}`);
}

/** Refuses to read an encrypted manifest's chunks with a key other than the one it names. */
export function checkManifestKey(manifest: Manifest, codec: ChunkCodec, where: string): void {
  const wanted = manifest.encryption?.keyId ?? null;
  if (wanted === null || wanted === codec.keyId) return;
  throw new TargetError(
    'EXTENTLOG_ERR_TARGET_KEY',
    `${where} was encrypted with key id ${wanted}, but ${codec.keyId === null ? 'no encryption key is configured' : `the configured key has id ${codec.keyId}`}: configure the key file the restore point was written with`,
    { details: { keyId: wanted, configuredKeyId: codec.keyId } },
  );
}
