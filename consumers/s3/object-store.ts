/**
 * The few object-store operations the S3 target needs, so that its logic (chunking,
 * journals, manifests, garbage collection) is written once against this interface and
 * tested both against an in-memory store and a real S3 server. `s3-object-store.ts` speaks
 * S3 (AWS, Alibaba OSS, radosgw, MinIO); errors come out translated to `TargetError`.
 */

export interface StoredObject {
  readonly key: string;
  readonly sizeBytes: number;
  /** The store's modification time (server clock), ms since the epoch. */
  readonly lastModifiedMs: number;
}

export interface ObjectStore {
  /** `s3://bucket/` or similar, for messages and restore point locations. */
  readonly url: string;
  /** The object's bytes, or null when there is none. */
  get(key: string): Promise<Buffer | null>;
  /** Exactly `lengthBytes` from `offsetBytes` (a ranged GET). */
  getRange(key: string, offsetBytes: number, lengthBytes: number): Promise<Buffer>;
  head(key: string): Promise<StoredObject | null>;
  /**
   * 'exists' only with `ifNoneMatch`, when an object already has the key (nothing written).
   * `sha256Hex`, when the caller already knows the body's sha256, spares hashing it again to
   * sign the request (and the service refuses a body that does not match it).
   */
  put(
    key: string,
    body: Buffer,
    options?: { ifNoneMatch?: boolean; sha256Hex?: string },
  ): Promise<'created' | 'exists'>;
  /** Sets the object's modification time to now (server-side copy onto itself); null if gone. */
  touch(key: string): Promise<StoredObject | null>;
  /** Deletes the keys; missing ones are not an error. */
  delete(keys: readonly string[]): Promise<void>;
  /** Every object under `prefix`, in key order. */
  list(prefix: string): AsyncIterable<StoredObject>;
  /** Aborts multipart uploads under `prefix` started before `beforeMs`; returns how many. */
  abortUploads(prefix: string, beforeMs: number): Promise<number>;
}
