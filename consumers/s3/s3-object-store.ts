/**
 * `ObjectStore` over the S3 REST API (@aws-sdk/client-s3): GetObject (ranged), HeadObject,
 * PutObject (with `If-None-Match: *` for create-only writes), CopyObject onto itself to
 * refresh an object's modification time, DeleteObjects, ListObjectsV2 and the multipart
 * upload calls (through @aws-sdk/lib-storage for bodies above the multipart threshold).
 *
 * Differences between services are handled here, not by callers:
 * - a create-only write that finds an object answers 412 PreconditionFailed (S3, radosgw) or
 *   409 FileAlreadyExists (OSS with `x-oss-forbid-overwrite`); both mean 'exists';
 * - radosgw answers CompleteMultipartUpload with an empty ETag: nothing here relies on it.
 */
import {
  AbortMultipartUploadCommand,
  CopyObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import type { ObjectStore, StoredObject } from './object-store.js';
import { httpStatusOf, s3CodeOf, targetErrorOf } from './s3-error-of.js';

export interface S3ObjectStoreOptions {
  readonly client: S3Client;
  readonly bucket: string;
  /** Bodies larger than this go up as multipart uploads (default 16 MiB). */
  readonly multipartThresholdBytes?: number;
  /** Part size of multipart uploads (default 8 MiB, the minimum S3 allows is 5 MiB). */
  readonly partSizeBytes?: number;
  /** Alibaba OSS: create-only writes use `x-oss-forbid-overwrite: true` as well. */
  readonly ossForbidOverwrite?: boolean;
}

const DELETE_BATCH = 1000;

function notFound(error: unknown): boolean {
  const code = s3CodeOf(error);
  return code === 'NoSuchKey' || code === 'NotFound' || httpStatusOf(error) === 404;
}

export function createS3ObjectStore(options: S3ObjectStoreOptions): ObjectStore {
  const { client, bucket } = options;
  const threshold = options.multipartThresholdBytes ?? 16 * 1024 * 1024;
  const partSize = options.partSizeBytes ?? 8 * 1024 * 1024;
  const url = `s3://${bucket}/`;
  const where = (verb: string, key: string) => `${verb} ${url}${key}`;

  async function get(key: string, range?: string): Promise<Buffer | null> {
    try {
      const response = await client.send(
        new GetObjectCommand({ Bucket: bucket, Key: key, ...(range ? { Range: range } : {}) }),
      );
      const bytes = await response.Body!.transformToByteArray();
      return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    } catch (error) {
      // A missing bucket answers NoSuchBucket, which the table turns into its own error.
      if (notFound(error) && s3CodeOf(error) !== 'NoSuchBucket') return null;
      throw targetErrorOf(error, where('GET', key), 'EXTENTLOG_ERR_TARGET_READ');
    }
  }

  return {
    url,
    get: (key) => get(key),
    async getRange(key, offsetBytes, lengthBytes) {
      const body = await get(key, `bytes=${offsetBytes}-${offsetBytes + lengthBytes - 1}`);
      if (body === null || body.length !== lengthBytes)
        throw targetErrorOf(
          new Error(
            body === null
              ? 'no such object'
              : `expected ${lengthBytes} bytes, received ${body.length}`,
          ),
          where('GET', `${key} [${offsetBytes}, +${lengthBytes})`),
          'EXTENTLOG_ERR_TARGET_READ',
        );
      return body;
    },
    async head(key) {
      try {
        const response = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
        return {
          key,
          sizeBytes: response.ContentLength ?? 0,
          lastModifiedMs: response.LastModified?.getTime() ?? 0,
        };
      } catch (error) {
        // HEAD has no body, so a missing bucket is a bare 404 too: tell them apart later.
        if (notFound(error)) return null;
        throw targetErrorOf(error, where('HEAD', key), 'EXTENTLOG_ERR_TARGET_READ');
      }
    },
    async put(key, body, putOptions = {}) {
      try {
        if (body.length > threshold && putOptions.ifNoneMatch !== true) {
          await new Upload({
            client,
            params: { Bucket: bucket, Key: key, Body: body },
            partSize,
            queueSize: 4,
            leavePartsOnError: false,
          }).done();
          return 'created';
        }
        const command = new PutObjectCommand({
          Bucket: bucket,
          Key: key,
          Body: body,
          ContentLength: body.length,
          ...(putOptions.ifNoneMatch ? { IfNoneMatch: '*' } : {}),
        });
        const headers: Record<string, string> = {};
        if (putOptions.ifNoneMatch && options.ossForbidOverwrite)
          headers['x-oss-forbid-overwrite'] = 'true';
        // SigV4 signs a payload hash it finds in this header instead of hashing the body.
        if (putOptions.sha256Hex !== undefined)
          headers['x-amz-content-sha256'] = putOptions.sha256Hex;
        if (Object.keys(headers).length > 0)
          command.middlewareStack.add(
            (next) => async (args) => {
              Object.assign((args.request as { headers: Record<string, string> }).headers, headers);
              return next(args);
            },
            { step: 'build' },
          );
        await client.send(command);
        return 'created';
      } catch (error) {
        const status = httpStatusOf(error);
        if (putOptions.ifNoneMatch && (status === 412 || status === 409)) return 'exists';
        throw targetErrorOf(error, where('PUT', key), 'EXTENTLOG_ERR_TARGET_WRITE');
      }
    },
    async touch(key) {
      try {
        const response = await client.send(
          new CopyObjectCommand({
            Bucket: bucket,
            Key: key,
            CopySource: `${bucket}/${key.split('/').map(encodeURIComponent).join('/')}`,
            MetadataDirective: 'REPLACE',
            Metadata: { 'extentlog-touched': String(Date.now()) },
          }),
        );
        const head = await this.head(key);
        return head === null
          ? null
          : {
              ...head,
              lastModifiedMs:
                response.CopyObjectResult?.LastModified?.getTime() ?? head.lastModifiedMs,
            };
      } catch (error) {
        if (notFound(error) && s3CodeOf(error) !== 'NoSuchBucket') return null;
        throw targetErrorOf(error, where('COPY', key), 'EXTENTLOG_ERR_TARGET_WRITE');
      }
    },
    async delete(keys) {
      for (let index = 0; index < keys.length; index += DELETE_BATCH) {
        const batch = keys.slice(index, index + DELETE_BATCH);
        try {
          const response = await client.send(
            new DeleteObjectsCommand({
              Bucket: bucket,
              Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true },
            }),
          );
          const failed = (response.Errors ?? []).filter((entry) => entry.Code !== 'NoSuchKey');
          if (failed.length > 0)
            throw Object.assign(new Error(`${failed[0]!.Key}: ${failed[0]!.Message}`), {
              Code: failed[0]!.Code,
            });
        } catch (error) {
          throw targetErrorOf(
            error,
            where('DELETE', `${batch[0]} (+${batch.length - 1} more)`),
            'EXTENTLOG_ERR_TARGET_WRITE',
          );
        }
      }
    },
    async *list(prefix) {
      let token: string | undefined;
      do {
        let page;
        try {
          page = await client.send(
            new ListObjectsV2Command({
              Bucket: bucket,
              Prefix: prefix,
              ...(token ? { ContinuationToken: token } : {}),
            }),
          );
        } catch (error) {
          throw targetErrorOf(error, where('LIST', prefix), 'EXTENTLOG_ERR_TARGET_READ');
        }
        for (const entry of page.Contents ?? [])
          yield {
            key: entry.Key!,
            sizeBytes: entry.Size ?? 0,
            lastModifiedMs: entry.LastModified?.getTime() ?? 0,
          } satisfies StoredObject;
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token !== undefined);
    },
    async abortUploads(prefix, beforeMs) {
      let aborted = 0;
      try {
        const page = await client.send(
          new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: prefix }),
        );
        for (const upload of page.Uploads ?? []) {
          if ((upload.Initiated?.getTime() ?? 0) >= beforeMs) continue;
          await client.send(
            new AbortMultipartUploadCommand({
              Bucket: bucket,
              Key: upload.Key!,
              UploadId: upload.UploadId!,
            }),
          );
          aborted++;
        }
      } catch (error) {
        throw targetErrorOf(error, where('ABORT UPLOADS', prefix), 'EXTENTLOG_ERR_TARGET_WRITE');
      }
      return aborted;
    },
  };
}
