/**
 * An in-memory `ObjectStore` for unit tests of the S3 target's logic, with a clock the
 * test controls (modification times) and hooks to run code between operations (races).
 */
import type { ObjectStore, StoredObject } from '../../consumers/s3/object-store.js';

export interface MemoryObjectStore extends ObjectStore {
  readonly objects: Map<string, { body: Buffer; lastModifiedMs: number }>;
  /** Counts of calls by operation ('put', 'head', …). */
  readonly calls: Map<string, number>;
  clockMs: number;
  /** Runs before every operation; may throw to inject a failure. */
  beforeOperation: ((operation: string, key: string) => Promise<void> | void) | null;
}

export function createMemoryObjectStore(): MemoryObjectStore {
  const objects = new Map<string, { body: Buffer; lastModifiedMs: number }>();
  const calls = new Map<string, number>();
  const store: MemoryObjectStore = {
    url: 'mem://bucket/',
    objects,
    calls,
    clockMs: 1_000_000,
    beforeOperation: null,
    async get(key) {
      await hook('get', key);
      const object = objects.get(key);
      return object === undefined ? null : Buffer.from(object.body);
    },
    async getRange(key, offsetBytes, lengthBytes) {
      await hook('getRange', key);
      const object = objects.get(key);
      if (object === undefined) throw new Error(`no object ${key}`);
      return Buffer.from(object.body.subarray(offsetBytes, offsetBytes + lengthBytes));
    },
    async head(key) {
      await hook('head', key);
      const object = objects.get(key);
      return object === undefined ? null : describe(key, object);
    },
    async put(key, body, options = {}) {
      await hook('put', key);
      if (options.ifNoneMatch && objects.has(key)) return 'exists';
      objects.set(key, { body: Buffer.from(body), lastModifiedMs: store.clockMs });
      return 'created';
    },
    async touch(key) {
      await hook('touch', key);
      const object = objects.get(key);
      if (object === undefined) return null;
      object.lastModifiedMs = store.clockMs;
      return describe(key, object);
    },
    async delete(keys) {
      for (const key of keys) {
        await hook('delete', key);
        objects.delete(key);
      }
    },
    async *list(prefix) {
      await hook('list', prefix);
      for (const key of [...objects.keys()].sort())
        if (key.startsWith(prefix)) {
          const object = objects.get(key);
          if (object !== undefined) yield describe(key, object);
        }
    },
    async abortUploads() {
      return 0;
    },
  };
  async function hook(operation: string, key: string) {
    calls.set(operation, (calls.get(operation) ?? 0) + 1);
    await store.beforeOperation?.(operation, key);
  }
  return store;
}

function describe(key: string, object: { body: Buffer; lastModifiedMs: number }): StoredObject {
  return { key, sizeBytes: object.body.length, lastModifiedMs: object.lastModifiedMs };
}
