/**
 * Translates S3 errors (the `Code` of an S3 error response, or a transport error) into
 * `TargetError`s through one table. Codes from the S3 API reference ("Error responses");
 * Alibaba OSS and radosgw answer with the same codes on their S3 endpoints.
 */
import { describeError } from '../../errors/extentlog-error.js';
import { TargetError } from '../errors.js';

type Code = keyof typeof TargetError.codes;

const BY_S3_CODE: Readonly<Record<string, Code>> = {
  InvalidAccessKeyId: 'EXTENTLOG_ERR_TARGET_AUTH',
  SignatureDoesNotMatch: 'EXTENTLOG_ERR_TARGET_AUTH',
  AccessDenied: 'EXTENTLOG_ERR_TARGET_AUTH',
  InvalidToken: 'EXTENTLOG_ERR_TARGET_AUTH',
  ExpiredToken: 'EXTENTLOG_ERR_TARGET_AUTH',
  TokenRefreshRequired: 'EXTENTLOG_ERR_TARGET_AUTH',
  AuthorizationHeaderMalformed: 'EXTENTLOG_ERR_TARGET_AUTH',
  CredentialsProviderError: 'EXTENTLOG_ERR_TARGET_AUTH',
  NoSuchBucket: 'EXTENTLOG_ERR_TARGET_BUCKET',
};

const FIX: Partial<Record<Code, string>> = {
  EXTENTLOG_ERR_TARGET_AUTH:
    'check the access key files (or profile) and that the key may read and write the bucket',
  EXTENTLOG_ERR_TARGET_BUCKET: 'create the bucket, or fix bucket, endpoint and region',
};

/** S3's error code of a thrown value ('NoSuchKey', 'SlowDown', 'ECONNREFUSED', …). */
export function s3CodeOf(error: unknown): string {
  const value = error as { Code?: unknown; name?: unknown; code?: unknown };
  if (typeof value?.Code === 'string') return value.Code;
  if (typeof value?.code === 'string') return value.code;
  return typeof value?.name === 'string' ? value.name : 'Error';
}

export function httpStatusOf(error: unknown): number | undefined {
  return (error as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
}

/**
 * `operation` says what was attempted ('PUT s3://b/k'); `fallback` is the code for errors
 * the table does not name (reads: EXTENTLOG_ERR_TARGET_READ, writes: …_WRITE).
 */
export function targetErrorOf(
  error: unknown,
  operation: string,
  fallback: 'EXTENTLOG_ERR_TARGET_READ' | 'EXTENTLOG_ERR_TARGET_WRITE',
): TargetError {
  if (error instanceof TargetError) return error;
  const s3Code = s3CodeOf(error);
  const status = httpStatusOf(error);
  const code = BY_S3_CODE[s3Code] ?? (status === 403 ? 'EXTENTLOG_ERR_TARGET_AUTH' : fallback);
  const fix = FIX[code];
  // Client errors other than throttling will fail again; server and transport errors may not.
  const retriable =
    code === fallback
      ? status === undefined || status >= 500 || status === 429 || s3Code === 'SlowDown'
      : undefined;
  return new TargetError(
    code,
    `${operation} failed: ${s3Code}${status === undefined ? '' : ` (HTTP ${status})`}: ${describeError(error)}${fix === undefined ? '' : `; ${fix}`}`,
    {
      cause: error,
      ...(retriable === undefined ? {} : { retriable }),
      details: { operation, s3Code, ...(status === undefined ? {} : { httpStatus: status }) },
    },
  );
}
