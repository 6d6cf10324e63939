/**
 * Builds the S3 client of a target from its connection settings. Three kinds of service:
 *
 * - 'aws': Amazon S3. Region as AWS names it (`eu-central-1`); virtual-hosted-style
 *   requests; the endpoint only for VPC or FIPS endpoints.
 * - 'oss': Alibaba Cloud OSS through its S3-compatible endpoint
 *   `https://s3.oss-<region>.aliyuncs.com` (`-internal` inside a VPC). The signing region is
 *   the plain region id (`cn-hangzhou`), not the OSS region id (`oss-cn-hangzhou`); OSS
 *   accepts only virtual-hosted-style requests; create-only writes add
 *   `x-oss-forbid-overwrite: true`.
 * - 'generic': on-premises gateways (radosgw, MinIO, …): an endpoint is required and
 *   requests are path-style by default, as such gateways rarely have wildcard DNS.
 *
 * Every kind sends checksums only where the API requires them and never uses
 * `aws-chunked` uploads: many S3-compatible services reject the newer trailing checksums.
 * DeleteObjects also carries `Content-MD5`, which the S3 API reference requires and OSS and
 * older gateways enforce, but which the SDK replaced with a CRC32 checksum header.
 *
 * Credentials: from files named in the configuration (access key id, secret, optional
 * session token), from a named profile of the shared credentials files, or, when neither
 * is set, from the SDK's default chain (environment, shared files, web identity, ECS and
 * EC2 instance metadata). Secrets never come from the configuration itself.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import process from 'node:process';
import { S3Client } from '@aws-sdk/client-s3';
import { fromIni } from '@aws-sdk/credential-providers';
import { describeError } from '../../errors/extentlog-error.js';
import { TargetError } from '../errors.js';

export type S3Provider = 'aws' | 'oss' | 'generic';

export type S3Credentials =
  | {
      readonly accessKeyIdFile: string;
      readonly secretAccessKeyFile: string;
      readonly sessionTokenFile?: string;
    }
  | { readonly profile: string; readonly credentialsFile?: string; readonly configFile?: string };

export interface S3ConnectionOptions {
  readonly provider: S3Provider;
  readonly endpoint?: string;
  readonly region?: string;
  readonly forcePathStyle?: boolean;
  readonly credentials?: S3Credentials;
  /** Sockets per client (uploads and reads in flight share them). */
  readonly maxSockets?: number;
}

async function secretFile(path: string, what: string): Promise<string> {
  try {
    const value = (await readFile(path, 'utf8')).trim();
    if (value === '') throw new Error('the file is empty');
    return value;
  } catch (error) {
    throw new TargetError(
      'EXTENTLOG_ERR_TARGET_CONFIG',
      `s3 target: ${what} file ${path} cannot be read: ${describeError(error)}`,
      { cause: error, details: { path } },
    );
  }
}

export async function createS3Client(options: S3ConnectionOptions): Promise<S3Client> {
  // The SDK warns on every process below Node.js 22; extentlog supports Node.js 20.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const { provider, endpoint } = options;
  if (provider !== 'aws' && endpoint === undefined)
    throw new TargetError(
      'EXTENTLOG_ERR_TARGET_CONFIG',
      `s3 target: provider '${provider}' needs an endpoint (${provider === 'oss' ? 'https://s3.oss-<region>.aliyuncs.com' : 'the URL of the S3 gateway'})`,
    );
  const credentials = options.credentials;
  let resolved: S3Client['config']['credentials'] | undefined;
  if (credentials !== undefined && 'accessKeyIdFile' in credentials) {
    const accessKeyId = await secretFile(credentials.accessKeyIdFile, 'access key id');
    const secretAccessKey = await secretFile(credentials.secretAccessKeyFile, 'secret access key');
    const sessionToken =
      credentials.sessionTokenFile === undefined
        ? undefined
        : await secretFile(credentials.sessionTokenFile, 'session token');
    resolved = async () => ({
      accessKeyId,
      secretAccessKey,
      ...(sessionToken ? { sessionToken } : {}),
    });
  } else if (credentials !== undefined) {
    resolved = fromIni({
      profile: credentials.profile,
      ...(credentials.credentialsFile ? { filepath: credentials.credentialsFile } : {}),
      ...(credentials.configFile ? { configFilepath: credentials.configFile } : {}),
    });
  }
  const client = new S3Client({
    region: options.region ?? 'us-east-1',
    ...(endpoint === undefined ? {} : { endpoint }),
    forcePathStyle: options.forcePathStyle ?? provider === 'generic',
    ...(resolved === undefined ? {} : { credentials: resolved }),
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    maxAttempts: 4,
    // Without timeouts a connection the service stops answering stalls a replay for good;
    // with them the request fails and the SDK retries it.
    requestHandler: {
      connectionTimeout: 10_000,
      socketTimeout: 60_000,
      httpAgent: { maxSockets: options.maxSockets ?? 64 },
      httpsAgent: { maxSockets: options.maxSockets ?? 64 },
    },
  });
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const request = args.request as { headers?: Record<string, string>; body?: unknown };
      if (
        context.commandName === 'DeleteObjectsCommand' &&
        request.headers !== undefined &&
        (typeof request.body === 'string' || request.body instanceof Uint8Array)
      )
        request.headers['content-md5'] = createHash('md5').update(request.body).digest('base64');
      return next(args);
    },
    { step: 'build', name: 'extentlogDeleteObjectsContentMd5' },
  );
  return client;
}
