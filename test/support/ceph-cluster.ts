/**
 * A single-node Ceph cluster with radosgw for a test file (test/peers/ceph.sh), started in
 * `before` and stopped in `after`, with one S3 user whose keys the tests use. Each test
 * makes its own bucket. ~15 s to start; the first bucket takes a few seconds more.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';

const run = promisify(execFile);
// dist/test/support → the checkout's test/peers/ceph.sh
const script = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '../../../test/peers/ceph.sh',
);

export interface CephCluster {
  readonly dir: string;
  readonly endpoint: string;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  /** Files holding the keys, for target configurations. */
  readonly accessKeyIdFile: string;
  readonly secretAccessKeyFile: string;
  client(credentials?: { accessKeyId: string; secretAccessKey: string }): S3Client;
  /** Creates a fresh bucket and returns its name. */
  bucket(prefix: string): Promise<string>;
  stop(): Promise<void>;
}

export async function startCephCluster(): Promise<CephCluster> {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const dir = await mkdtemp(path.join(os.tmpdir(), 'extentlog-ceph-'));
  const env = { ...process.env, CEPH_DIR: dir, WITH_RGW: '1' };
  const stop = async () => {
    await run('bash', [script, 'stop'], { env }).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await run('bash', [script, 'start'], { env, maxBuffer: 16 * 1024 * 1024 });
    const { stdout: envText } = await run('bash', [script, 'env'], { env });
    const endpoint = /RGW_ENDPOINT=(\S+)/.exec(envText)![1]!;
    const { stdout } = await run('bash', [script, 's3-user', 'extentlog-test'], { env });
    const user = JSON.parse(stdout) as { keys: { access_key: string; secret_key: string }[] };
    const { access_key: accessKeyId, secret_key: secretAccessKey } = user.keys[0]!;
    const accessKeyIdFile = path.join(dir, 'access-key-id');
    const secretAccessKeyFile = path.join(dir, 'secret-access-key');
    await writeFile(accessKeyIdFile, accessKeyId, { mode: 0o600 });
    await writeFile(secretAccessKeyFile, secretAccessKey, { mode: 0o600 });
    const client = (credentials = { accessKeyId, secretAccessKey }) =>
      new S3Client({
        endpoint,
        region: 'us-east-1',
        forcePathStyle: true,
        credentials,
        requestChecksumCalculation: 'WHEN_REQUIRED',
        responseChecksumValidation: 'WHEN_REQUIRED',
      });
    let buckets = 0;
    return {
      dir,
      endpoint,
      accessKeyId,
      secretAccessKey,
      accessKeyIdFile,
      secretAccessKeyFile,
      client,
      async bucket(prefix) {
        const name = `${prefix}-${process.pid}-${++buckets}`.toLowerCase();
        const admin = client();
        await admin.send(new CreateBucketCommand({ Bucket: name }));
        admin.destroy();
        return name;
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
