/**
 * The S3 target: every disk kept as content-addressed chunks plus one immutable manifest
 * per restore point, in any S3-compatible bucket (AWS S3, Alibaba OSS, radosgw, MinIO).
 * Every restore point stays restorable on its own (`openRestorePoint` serves any epoch
 * whose manifest is in the bucket), and no write ever replaces a manifest.
 *
 * Layout: bucket-layout.ts; one disk's epochs: s3-target-disk.ts; chunk encoding and
 * encryption: chunk-codec.ts; garbage collection and its protocol: garbage-collector.ts.
 * docs/s3-target.md describes all of it for operators.
 */
import type { Logger } from 'pino';
import type { RestorePoint } from '../../schemas/restore-point.js';
import type { RestorePointReader, Target, TargetDisk, TargetDiskInfo } from '../target.js';
import type { BucketLayout } from './bucket-layout.js';
import type { ChunkStore } from './chunk-store.js';
import { readManifest } from './manifest-index.js';
import { openManifestReader } from './manifest-reader.js';
import type { ObjectStore } from './object-store.js';
import type { RetentionPolicy } from './retention.js';
import { S3TargetDisk } from './s3-target-disk.js';

export interface S3TargetOptions {
  readonly store: ObjectStore;
  readonly layout: BucketLayout;
  readonly chunks: ChunkStore;
  /** Chunk size of new disks and FULL epochs (default 4 MiB). */
  readonly chunkSizeBytes?: number;
  /** Dirty chunk bytes held per disk before the oldest are uploaded (default 64 MiB). */
  readonly maxDirtyBytes?: number;
  /** Chunk uploads in flight per disk (default 8). */
  readonly uploadConcurrency?: number;
  /** How often a writer polls a running garbage collection's lock (default 1 s). */
  readonly gcPollMs?: number;
  /** How long a writer waits for a garbage collection before retrying (default 10 min). */
  readonly gcWaitMs?: number;
  /** Applied to a disk's restore points after each new one (see retention.ts). */
  readonly retention?: RetentionPolicy;
  readonly logger: Logger;
  readonly now?: () => number;
}

export const DEFAULT_CHUNK_BYTES = 4 * 1024 * 1024;

export function createS3Target(options: S3TargetOptions): Target {
  const { store, layout, chunks, logger } = options;
  const now = options.now ?? Date.now;
  const disks = new Set<TargetDisk>();

  return {
    kind: 's3',
    async openDisk(info: TargetDiskInfo) {
      const disk = new S3TargetDisk(info, {
        store,
        layout,
        chunks,
        chunkSizeBytes: options.chunkSizeBytes ?? DEFAULT_CHUNK_BYTES,
        maxDirtyBytes: options.maxDirtyBytes ?? 64 * 1024 * 1024,
        uploadConcurrency: options.uploadConcurrency ?? 8,
        settle: {
          store,
          layout,
          pollMs: options.gcPollMs ?? 1000,
          timeoutMs: options.gcWaitMs ?? 10 * 60 * 1000,
          now,
        },
        ...(options.retention === undefined ? {} : { retention: options.retention }),
        logger,
        now,
      });
      disks.add(disk);
      const close = disk.close.bind(disk);
      disk.close = async () => {
        disks.delete(disk);
        await close();
      };
      return disk;
    },
    async openRestorePoint(point: RestorePoint): Promise<RestorePointReader> {
      const key =
        point.location !== null && point.location.startsWith(store.url)
          ? point.location.slice(store.url.length)
          : layout.manifestKey(point.feed, point.disk, point.epoch);
      const manifest = await readManifest(store, key);
      return openManifestReader({ chunks, manifest, where: `${store.url}${key}` });
    },
    async close() {
      await Promise.allSettled([...disks].map((disk) => disk.close()));
      disks.clear();
    },
  };
}
