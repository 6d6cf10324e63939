/**
 * Where the S3 target keeps things in its bucket, below an optional key prefix `P`:
 *
 *   P chunks/<nn>/<name>                               chunk objects (immutable, shared)
 *   P manifests/<feed>/<disk>/<epoch:020>.json        one immutable manifest per restore point
 *   P pending/<feed>/<disk>/<epoch:020>/<seq:010>.json  journal of an open epoch (see s3-target-disk.ts)
 *   P gc/lock.json, P gc/candidates/<run>.json         garbage collection (see garbage-collector.ts)
 *
 * A chunk's name is its content address, 64 hex digits (sha256 of the plaintext, or a
 * keyed HMAC of it when encrypted), followed by the encoding's suffix (`.gz`, `.enc`,
 * `.gz.enc`); `<nn>` is the name's first two digits, spreading chunks over 256 prefixes.
 * Disk ids are percent-encoded so that one id is one key segment and never climbs out of
 * it. Epochs are zero-padded so that listing order is epoch order.
 */
export interface BucketLayout {
  readonly prefix: string;
  chunkKey(name: string): string;
  chunksPrefix(): string;
  manifestKey(feed: string, diskId: string, epoch: number): string;
  /** Every manifest of one disk, or (without a disk) of every disk. */
  manifestsPrefix(feed?: string, diskId?: string): string;
  pendingPrefix(feed?: string, diskId?: string, epoch?: number): string;
  pendingKey(feed: string, diskId: string, epoch: number, seq: number): string;
  gcLockKey(): string;
  gcCandidatesKey(runId: string): string;
}

export interface ManifestKeyParts {
  readonly feed: string;
  readonly diskId: string;
  readonly epoch: number;
}

export interface PendingKeyParts extends ManifestKeyParts {
  readonly seq: number;
}

const NAME = /^[0-9a-f]{64}(\.gz)?(\.enc)?$/;

export function isChunkName(name: string): boolean {
  return NAME.test(name);
}

/** The 64-hex-digit content address at the start of a chunk name. */
export function chunkAddress(name: string): string {
  return name.slice(0, 64);
}

function encodeSegment(value: string): string {
  const encoded = encodeURIComponent(value);
  return encoded === '.' || encoded === '..' ? encoded.replaceAll('.', '%2E') : encoded;
}

function padEpoch(value: number): string {
  return String(value).padStart(20, '0');
}

/** `prefix` is used as given, plus a '/' when it has none: 'backups' → 'backups/'. */
export function bucketLayout(prefix = ''): BucketLayout {
  const p = prefix === '' || prefix.endsWith('/') ? prefix : `${prefix}/`;
  const disk = (feed: string, diskId: string) => `${encodeSegment(feed)}/${encodeSegment(diskId)}`;
  return {
    prefix: p,
    chunkKey: (name) => `${p}chunks/${name.slice(0, 2)}/${name}`,
    chunksPrefix: () => `${p}chunks/`,
    manifestKey: (feed, diskId, epoch) =>
      `${p}manifests/${disk(feed, diskId)}/${padEpoch(epoch)}.json`,
    manifestsPrefix: (feed, diskId) =>
      feed === undefined
        ? `${p}manifests/`
        : diskId === undefined
          ? `${p}manifests/${encodeSegment(feed)}/`
          : `${p}manifests/${disk(feed, diskId)}/`,
    pendingPrefix: (feed, diskId, epoch) =>
      feed === undefined || diskId === undefined
        ? `${p}pending/`
        : epoch === undefined
          ? `${p}pending/${disk(feed, diskId)}/`
          : `${p}pending/${disk(feed, diskId)}/${padEpoch(epoch)}/`,
    pendingKey: (feed, diskId, epoch, seq) =>
      `${p}pending/${disk(feed, diskId)}/${padEpoch(epoch)}/${String(seq).padStart(10, '0')}.json`,
    gcLockKey: () => `${p}gc/lock.json`,
    gcCandidatesKey: (runId) => `${p}gc/candidates/${runId}.json`,
  };
}

/** The feed, disk and epoch of a manifest key, or null for any other key. */
export function parseManifestKey(layout: BucketLayout, key: string): ManifestKeyParts | null {
  const rest = key.startsWith(`${layout.prefix}manifests/`)
    ? key.slice(layout.prefix.length + 'manifests/'.length)
    : null;
  const match = rest === null ? null : /^([^/]+)\/([^/]+)\/(\d{20})\.json$/.exec(rest);
  if (match === null) return null;
  return {
    feed: decodeURIComponent(match[1]!),
    diskId: decodeURIComponent(match[2]!),
    epoch: Number(match[3]),
  };
}

/** The feed, disk, epoch and sequence of a pending journal key, or null. */
export function parsePendingKey(layout: BucketLayout, key: string): PendingKeyParts | null {
  const rest = key.startsWith(`${layout.prefix}pending/`)
    ? key.slice(layout.prefix.length + 'pending/'.length)
    : null;
  const match = rest === null ? null : /^([^/]+)\/([^/]+)\/(\d{20})\/(\d{10})\.json$/.exec(rest);
  if (match === null) return null;
  return {
    feed: decodeURIComponent(match[1]!),
    diskId: decodeURIComponent(match[2]!),
    epoch: Number(match[3]),
    seq: Number(match[4]),
  };
}

/** The chunk name of a chunk key, or null for any other key. */
export function parseChunkKey(layout: BucketLayout, key: string): string | null {
  const name = key.slice(key.lastIndexOf('/') + 1);
  return key === layout.chunkKey(name) && isChunkName(name) ? name : null;
}
