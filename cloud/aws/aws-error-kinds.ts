/**
 * What an AWS error means for the caller, by its error code (the SDK's `error.name`: the
 * REST-JSON `x-amzn-ErrorType` of the EBS direct APIs, the `<Code>` of EC2's Query API XML).
 * AWS asks clients to retry 5xx responses, `ThrottlingException` and
 * `RequestThrottledException` (EBS direct API reference, "Error retries"), and EC2's
 * `RequestLimitExceeded`.
 */

export type AwsErrorKind = 'throttle' | 'server' | 'auth' | 'clock' | 'not-found' | 'invalid';

const KINDS: Readonly<Record<string, AwsErrorKind>> = {
  ThrottlingException: 'throttle',
  Throttling: 'throttle',
  RequestThrottledException: 'throttle',
  RequestLimitExceeded: 'throttle',
  TooManyRequestsException: 'throttle',
  ConcurrentLimitExceededException: 'throttle',
  SnapshotCreationPerVolumeRateExceeded: 'throttle',
  InternalServerException: 'server',
  InternalError: 'server',
  InternalFailure: 'server',
  ServiceUnavailable: 'server',
  ServiceUnavailableException: 'server',
  Unavailable: 'server',
  ExpiredTokenException: 'auth',
  ExpiredToken: 'auth',
  UnrecognizedClientException: 'auth',
  InvalidClientTokenId: 'auth',
  AuthFailure: 'auth',
  AccessDeniedException: 'auth',
  UnauthorizedOperation: 'auth',
  MissingAuthenticationTokenException: 'auth',
  IncompleteSignatureException: 'auth',
  RequestExpired: 'clock',
  RequestTimeTooSkewed: 'clock',
  RequestInTheFuture: 'clock',
  ResourceNotFoundException: 'not-found',
  'InvalidSnapshot.NotFound': 'not-found',
  'InvalidVolume.NotFound': 'not-found',
  'InvalidInstanceID.NotFound': 'not-found',
};

/** Node.js socket errors worth another attempt. */
const NETWORK_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ETIMEDOUT',
  'EPIPE',
  'EAI_AGAIN',
  'ECONNABORTED',
  'UND_ERR_SOCKET',
]);

export interface AwsErrorFacts {
  readonly kind: AwsErrorKind;
  readonly awsCode: string;
  readonly httpStatus: number | null;
  readonly requestId: string | null;
  /** The EBS direct APIs' `Reason` (INVALID_BLOCK_TOKEN, SNAPSHOT_NOT_FOUND, …). */
  readonly reason: string | null;
  readonly message: string;
}

export function awsErrorFacts(error: unknown): AwsErrorFacts {
  const record = (error ?? {}) as {
    name?: unknown;
    code?: unknown;
    message?: unknown;
    Reason?: unknown;
    $metadata?: { httpStatusCode?: number; requestId?: string };
  };
  const awsCode = typeof record.name === 'string' ? record.name : 'Error';
  const httpStatus = record.$metadata?.httpStatusCode ?? null;
  const message = typeof record.message === 'string' ? record.message : String(error);
  let kind: AwsErrorKind = KINDS[awsCode] ?? 'invalid';
  // "Signature expired: … is now earlier than …": the clock is off; the SDK corrects its
  // offset from the response's Date header, so one more attempt is signed right.
  if (awsCode === 'InvalidSignatureException' && /expired/i.test(message)) kind = 'clock';
  else if (awsCode === 'InvalidSignatureException' || awsCode === 'SignatureDoesNotMatch')
    kind = 'auth';
  if (KINDS[awsCode] === undefined && kind === 'invalid') {
    if (httpStatus !== null && httpStatus >= 500) kind = 'server';
    else if (typeof record.code === 'string' && NETWORK_CODES.has(record.code)) kind = 'server';
    else if (awsCode === 'TimeoutError' || /socket hang up/i.test(message)) kind = 'server';
  }
  return {
    kind,
    awsCode,
    httpStatus,
    requestId: record.$metadata?.requestId ?? null,
    reason: typeof record.Reason === 'string' ? record.Reason : null,
    message,
  };
}
