/**
 * Builds an S3 target and its parts from its configuration: the S3 client, the bucket
 * layout, the chunk codec (compression, encryption key) and chunk store. Shared by the
 * runtime (replay) and `extentlog s3` (restore, verify, retention, garbage collection).
 */
import type { S3Client } from '@aws-sdk/client-s3';
import type { Logger } from 'pino';
import { bucketLayout, type BucketLayout } from '../consumers/s3/bucket-layout.js';
import { createChunkCodec } from '../consumers/s3/chunk-codec.js';
import { createChunkStore, type ChunkStore } from '../consumers/s3/chunk-store.js';
import { loadChunkKeys } from '../consumers/s3/encryption-key.js';
import type { ObjectStore } from '../consumers/s3/object-store.js';
import { createS3Client } from '../consumers/s3/s3-client.js';
import { createS3ObjectStore } from '../consumers/s3/s3-object-store.js';
import { createS3Target } from '../consumers/s3/s3-target.js';
import type { Target } from '../consumers/target.js';
import type { S3TargetConfig } from './config/schema.js';

export interface S3TargetParts {
  readonly client: S3Client;
  readonly store: ObjectStore;
  readonly layout: BucketLayout;
  readonly chunks: ChunkStore;
  readonly target: Target;
}

export async function buildS3Target(
  config: S3TargetConfig,
  logger: Logger,
): Promise<S3TargetParts> {
  const client = await createS3Client({
    provider: config.provider,
    ...(config.endpoint === undefined ? {} : { endpoint: config.endpoint }),
    ...(config.region === undefined ? {} : { region: config.region }),
    ...(config.forcePathStyle === undefined ? {} : { forcePathStyle: config.forcePathStyle }),
    ...(config.credentials === undefined ? {} : { credentials: config.credentials }),
    maxSockets: Math.max(16, config.uploadConcurrency * 4),
  });
  const store = createS3ObjectStore({
    client,
    bucket: config.bucket,
    ossForbidOverwrite: config.provider === 'oss',
  });
  const layout = bucketLayout(config.prefix);
  const keys =
    config.encryption === undefined ? null : await loadChunkKeys(config.encryption.keyFile);
  const chunks = createChunkStore({
    store,
    layout,
    codec: createChunkCodec({ compression: config.compression, keys }),
    refreshAfterMs: config.gc.graceMs / 4,
  });
  const target = createS3Target({
    store,
    layout,
    chunks,
    chunkSizeBytes: config.chunkSizeBytes,
    maxDirtyBytes: config.maxDirtyBytes,
    uploadConcurrency: config.uploadConcurrency,
    ...(config.retention === undefined ? {} : { retention: config.retention }),
    logger: logger.child({ target: config.name }),
  });
  return { client, store, layout, chunks, target };
}
