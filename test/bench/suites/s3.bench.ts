/**
 * The S3 target against radosgw (single-node Ceph, memstore), next to what an operator
 * would do by hand with the same SDK against the same server in the same run:
 * - replay: a FULL epoch of an incompressible image (1 MiB extents, 4 MiB chunks) through
 *   the target, vs `@aws-sdk/lib-storage` multipart upload of the image as one object;
 * - restore: the restore point to an image file (parallel GETs, every chunk checked, then
 *   fdatasync), vs a GetObject of that one object to a file, then fdatasync;
 * - stored ÷ changed bytes of an incremental epoch, for clustered and scattered changes.
 * Next to each, the same image as 4 MiB objects through plain PutObject/GetObject: the part
 * of the gap that the chunked layout itself costs on this server. An untimed upload and
 * download of another image go first, so no side pays for the fresh cluster's warm-up;
 * then three rounds on fresh images, in alternating order, and each row takes the median.
 */
import { createWriteStream } from 'node:fs';
import { open, rm } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { pino } from 'pino';
import { s3TargetSchema } from '../../../bin/config/schema.js';
import { buildS3Target, type S3TargetParts } from '../../../bin/s3-target.js';
import { readManifest } from '../../../consumers/s3/manifest-index.js';
import { restoreImage } from '../../../consumers/s3/restore-image.js';
import type { ApplyExtent, TargetDisk } from '../../../consumers/target.js';
import { startCephCluster } from '../../support/ceph-cluster.js';
import {
  median,
  MiB,
  seconds,
  throughputRow,
  type BenchContext,
  type BenchRow,
  type BenchSuite,
} from '../harness.js';

const ROUNDS = 3;

async function storedBytes(parts: S3TargetParts): Promise<Map<string, number>> {
  const sizes = new Map<string, number>();
  for await (const object of parts.store.list(parts.layout.prefix))
    sizes.set(object.key, object.sizeBytes);
  return sizes;
}

async function epoch(
  disk: TargetDisk,
  number: number,
  sizeBytes: number,
  extents: readonly ApplyExtent[],
): Promise<string> {
  await disk.beginEpoch({
    epoch: number,
    mode: number === 1 ? 'FULL' : 'INCREMENTAL',
    diskSizeBytes: sizeBytes,
    baseEpoch: number === 1 ? null : number - 1,
    sourceReference: `bench-${number}`,
  });
  for (const extent of extents) await disk.apply(extent);
  await disk.flush();
  const { location } = await disk.commitEpoch({
    epoch: number,
    extentCount: extents.length,
    bytes: 0,
    digest: `bench-${number}`,
    sourceReference: `bench-${number}`,
    committedAtMs: Date.now(),
  });
  return location!;
}

/** What an operator would do with the SDK alone: one multipart upload of the image. */
async function plainUpload(client: S3Client, bucket: string, key: string, body: Buffer) {
  await new Upload({
    client,
    params: { Bucket: bucket, Key: key, Body: body },
    partSize: 8 * MiB,
    queueSize: 8,
  }).done();
}

/** One GetObject streamed to a file, made durable as a restore is (fdatasync). */
async function plainDownload(client: S3Client, bucket: string, key: string, outputPath: string) {
  const response = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  await pipeline(response.Body as Readable, createWriteStream(outputPath));
  const handle = await open(outputPath, 'r+');
  await handle.datasync();
  await handle.close();
}

/** Runs `operation` on each 4 MiB piece of `image` (as `chunks/<index>`), `lanes` at a time. */
async function plainChunkObjects(
  image: Buffer,
  lanes: number,
  operation: (key: string, body: Buffer) => Promise<unknown>,
): Promise<void> {
  const pieceBytes = 4 * MiB;
  let next = 0;
  await Promise.all(
    Array.from({ length: lanes }, async () => {
      for (let index = next++; index * pieceBytes < image.length; index = next++)
        await operation(
          `chunks/${index}`,
          image.subarray(index * pieceBytes, (index + 1) * pieceBytes),
        );
    }),
  );
}

export const suite: BenchSuite = {
  name: 's3-target',
  async run({ workDir, scale, log }: BenchContext): Promise<BenchRow[]> {
    log('starting a single-node Ceph cluster with radosgw');
    const ceph = await startCephCluster();
    try {
      const sizeBytes = Math.round(256 * scale) * MiB;
      const bucket = await ceph.bucket('bench');
      const parts = await buildS3Target(
        s3TargetSchema.parse({
          type: 's3',
          name: 'bench',
          feeds: ['bench'],
          provider: 'generic',
          endpoint: ceph.endpoint,
          bucket,
          prefix: 'bench/',
          credentials: {
            accessKeyIdFile: ceph.accessKeyIdFile,
            secretAccessKeyFile: ceph.secretAccessKeyFile,
          },
        }),
        pino({ level: 'silent' }),
      );
      // Whatever runs first on a fresh cluster and bucket is slower (radosgw and the OSD warm
      // up): an untimed upload and download of another image of the same size go first.
      log('warming the cluster up with an untimed upload and download');
      const client = ceph.client();
      await plainUpload(client, bucket, 'warm-up/disk.img', randomBytes(sizeBytes));
      await plainDownload(client, bucket, 'warm-up/disk.img', path.join(workDir, 'warm-up.img'));
      await rm(path.join(workDir, 'warm-up.img'));

      // Rounds of a fresh image each (so that nothing dedupes), extentlog and its peers in
      // alternating order; each row takes the median round, as the cores are shared.
      const times = {
        replay: [] as number[],
        upload: [] as number[],
        chunkPut: [] as number[],
        restore: [] as number[],
        download: [] as number[],
        chunkGet: [] as number[],
      };
      let disk: TargetDisk | null = null;
      for (let round = 0; round < ROUNDS; round++) {
        const image = randomBytes(sizeBytes);
        const roundDisk = await parts.target.openDisk({
          feed: 'bench',
          diskId: `d${round}`,
          sizeBytes,
          blockSizeBytes: 4096,
        });
        const full: ApplyExtent[] = [];
        for (let offsetBytes = 0; offsetBytes < sizeBytes; offsetBytes += MiB)
          full.push({
            offsetBytes,
            lengthBytes: MiB,
            op: 'WRITE',
            data: image.subarray(offsetBytes, offsetBytes + MiB),
          });
        let location = '';
        const ours = async () => {
          log(`round ${round}: replaying a FULL epoch of ${sizeBytes / MiB} MiB`);
          times.replay.push(
            await seconds(async () => (location = await epoch(roundDisk, 1, sizeBytes, full))),
          );
        };
        const peers = async () => {
          log(`round ${round}: uploading the image with lib-storage and as 4 MiB objects`);
          times.upload.push(
            await seconds(() => plainUpload(client, bucket, `plain/disk-${round}.img`, image)),
          );
          times.chunkPut.push(
            await seconds(() =>
              plainChunkObjects(image, 8, (key, body) =>
                client.send(
                  new PutObjectCommand({ Bucket: bucket, Key: `${round}/${key}`, Body: body }),
                ),
              ),
            ),
          );
        };
        if (round % 2 === 0) await ours().then(peers);
        else await peers().then(ours);

        const manifest = await readManifest(parts.store, location.slice(parts.store.url.length));
        const restore = async () => {
          log(`round ${round}: restoring the restore point`);
          times.restore.push(
            await seconds(() =>
              restoreImage({
                chunks: parts.chunks,
                manifest,
                where: 'bench',
                outputPath: path.join(workDir, 'restored.img'),
              }),
            ),
          );
        };
        const downloads = async () => {
          log(`round ${round}: downloading the plain object and the 4 MiB objects`);
          times.download.push(
            await seconds(() =>
              plainDownload(
                client,
                bucket,
                `plain/disk-${round}.img`,
                path.join(workDir, 'downloaded.img'),
              ),
            ),
          );
          times.chunkGet.push(
            await seconds(() =>
              plainChunkObjects(image, 16, async (key) => {
                const response = await client.send(
                  new GetObjectCommand({ Bucket: bucket, Key: `${round}/${key}` }),
                );
                await response.Body!.transformToByteArray();
              }),
            ),
          );
        };
        if (round % 2 === 0) await restore().then(downloads);
        else await downloads().then(restore);
        // The first disk goes on with the incremental epochs below.
        if (round === 0) disk = roundDisk;
        else await roundDisk.close();
      }
      if (disk === null) throw new Error('no rounds ran');
      const MBps = (samples: number[]) => sizeBytes / 1e6 / median(samples);

      const rows: BenchRow[] = [
        throughputRow(
          `replay FULL ${sizeBytes / MiB} MiB into radosgw`,
          MBps(times.replay),
          { name: 'lib-storage multipart upload', MBps: MBps(times.upload) },
          { atLeast: 0.5 },
        ),
        throughputRow(
          `restore ${sizeBytes / MiB} MiB from radosgw`,
          MBps(times.restore),
          { name: 'GetObject to a file', MBps: MBps(times.download) },
          { atLeast: 0.5 },
        ),
        // The same object shape without extentlog: what the layout itself costs on this server.
        throughputRow(`replay FULL ${sizeBytes / MiB} MiB into radosgw`, MBps(times.replay), {
          name: 'PutObject per 4 MiB, 8 in flight',
          MBps: MBps(times.chunkPut),
        }),
        throughputRow(`restore ${sizeBytes / MiB} MiB from radosgw`, MBps(times.restore), {
          name: 'GetObject per 4 MiB, 16 in flight',
          MBps: MBps(times.chunkGet),
        }),
      ];

      // Incremental epochs: stored bytes (new objects) ÷ changed bytes.
      const patterns: { name: string; extents: ApplyExtent[] }[] = [
        {
          name: 'clustered: 8 runs of 1 MiB',
          extents: Array.from({ length: 8 }, (_, index) => ({
            offsetBytes: index * 16 * MiB + 4096,
            lengthBytes: MiB,
            op: 'WRITE' as const,
            data: randomBytes(MiB),
          })),
        },
        {
          name: 'scattered: 0.1 % of 4 KiB blocks',
          extents: Array.from({ length: Math.floor(sizeBytes / 4096 / 1000) }, (_, index) => ({
            offsetBytes: (index * 1000 + 37) * 4096,
            lengthBytes: 4096,
            op: 'WRITE' as const,
            data: randomBytes(4096),
          })),
        },
      ];
      let number = 2;
      for (const pattern of patterns) {
        const before = await storedBytes(parts);
        await epoch(disk, number++, sizeBytes, pattern.extents);
        const after = await storedBytes(parts);
        let added = 0;
        for (const [key, size] of after) if (!before.has(key)) added += size;
        const changed = pattern.extents.reduce((sum, extent) => sum + extent.lengthBytes, 0);
        rows.push({
          name: `stored ÷ changed bytes, ${pattern.name}`,
          value: added / changed,
          unit: '×',
        });
      }
      await disk.close();
      client.destroy();
      parts.client.destroy();
      return rows;
    } finally {
      await ceph.stop();
    }
  },
};
