/**
 * What an epoch builds on: the disk's newest manifest (the usual base, and a dedupe hint
 * for FULL epochs), or the manifest of the epoch's `baseEpoch`, which must be readable
 * with the configured key.
 */
import { TargetError } from '../errors.js';
import type { EpochBegin } from '../target.js';
import type { JournalContext } from './epoch-journal.js';
import { decodeManifest, type Manifest } from './manifest.js';

export interface StoredManifest {
  readonly key: string;
  readonly manifest: Manifest;
}

export async function newestManifest(context: JournalContext): Promise<StoredManifest | null> {
  const { store, layout, feed, diskId } = context;
  let newestKey: string | null = null;
  for await (const object of store.list(layout.manifestsPrefix(feed, diskId)))
    if (object.key.endsWith('.json')) newestKey = object.key;
  if (newestKey === null) return null;
  const body = await store.get(newestKey);
  return body === null
    ? null
    : { key: newestKey, manifest: decodeManifest(body, `${store.url}${newestKey}`) };
}

export async function baseManifest(
  context: JournalContext & { readonly keyId: string | null },
  begin: EpochBegin,
  newest: StoredManifest | null,
): Promise<StoredManifest | null> {
  const { store, layout, feed, diskId, keyId } = context;
  if (begin.mode === 'FULL' || begin.baseEpoch === null) return null;
  let base = newest?.manifest.epoch === begin.baseEpoch ? newest : null;
  if (base === null) {
    const key = layout.manifestKey(feed, diskId, begin.baseEpoch);
    const body = await store.get(key);
    if (body === null)
      throw new TargetError(
        'EXTENTLOG_ERR_TARGET_BASE_MISSING',
        `${context.where}: ${begin.mode} epoch ${begin.epoch} builds on epoch ${begin.baseEpoch}, but ${store.url}${key} does not exist${newest === null ? '' : ` (the newest manifest is epoch ${newest.manifest.epoch})`}: re-baseline the disk with a FULL epoch`,
        { details: { epoch: begin.epoch, baseEpoch: begin.baseEpoch, key } },
      );
    base = { key, manifest: decodeManifest(body, `${store.url}${key}`) };
  }
  const baseKeyId = base.manifest.encryption?.keyId ?? null;
  if (baseKeyId !== null && baseKeyId !== keyId)
    throw new TargetError(
      'EXTENTLOG_ERR_TARGET_KEY',
      `${context.where}: epoch ${begin.epoch} builds on ${store.url}${base.key}, encrypted with key id ${baseKeyId}, but the configured key has id ${keyId ?? '(none: encryption is off)'}: configure that key, or re-baseline the disk (FULL) to rewrite it under the new one`,
      { details: { keyId: baseKeyId, configuredKeyId: keyId } },
    );
  return base;
}
