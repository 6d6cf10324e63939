/**
 * Verifies AWS Signature Version 4 on incoming requests, recomputed from the request as it
 * arrived (AWS General Reference, "Create a signed AWS API request"):
 *
 *   CanonicalRequest = Method \n CanonicalURI \n CanonicalQuery \n CanonicalHeaders \n
 *                      SignedHeaders \n HashedPayload
 *   StringToSign     = "AWS4-HMAC-SHA256" \n X-Amz-Date \n Date/Region/Service/aws4_request \n
 *                      hex(SHA256(CanonicalRequest))
 *   SigningKey       = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, Date), Region), Service), "aws4_request")
 *
 * Services other than S3 sign each path segment URI-encoded twice (once on the wire, once
 * more in the canonical URI). The signing time must be within 15 minutes of the server's.
 * Failures come back as the error AWS sends for them.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

export interface EmulatorCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  /** When set, requests must carry it in x-amz-security-token. */
  readonly sessionToken?: string;
}

export interface SignedRequest {
  readonly method: string;
  /** The path and query exactly as they arrived (still percent-encoded). */
  readonly rawUrl: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

export type SignatureFailure = {
  readonly status: number;
  readonly code:
    | 'MissingAuthenticationTokenException'
    | 'IncompleteSignatureException'
    | 'UnrecognizedClientException'
    | 'InvalidSignatureException'
    | 'ExpiredTokenException';
  readonly message: string;
};

const MAX_SKEW_MS = 15 * 60 * 1000;

/** RFC 3986 encoding as SigV4 wants it: everything but unreserved characters. */
function uriEncode(value: string): string {
  return encodeURIComponent(value).replace(
    /[!'()*]/g,
    (char) => `%${char.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

function canonicalQuery(query: string): string {
  if (query === '') return '';
  return query
    .split('&')
    .filter((pair) => pair !== '')
    .map((pair) => {
      const at = pair.indexOf('=');
      const key = decodeURIComponent(at < 0 ? pair : pair.slice(0, at));
      const value = at < 0 ? '' : decodeURIComponent(pair.slice(at + 1).replace(/\+/g, '%20'));
      return [uriEncode(key), uriEncode(value)] as const;
    })
    .sort(([a, av], [b, bv]) => (a < b ? -1 : a > b ? 1 : av < bv ? -1 : av > bv ? 1 : 0))
    .map(([key, value]) => `${key}=${value}`)
    .join('&');
}

function headerValue(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value.join(',') : value;
}

function hmac(key: Buffer | string, data: string): Buffer {
  return createHmac('sha256', key).update(data, 'utf8').digest();
}

/** `20240101T000000Z` → epoch ms, or NaN. */
function parseAmzDate(value: string): number {
  const match = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value);
  if (match === null) return Number.NaN;
  const [, y, mo, d, h, mi, s] = match.map(Number) as number[];
  return Date.UTC(y!, mo! - 1, d!, h!, mi!, s!);
}

function formatAmzDate(ms: number): string {
  return new Date(ms)
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
}

export interface VerifyOptions {
  readonly credentials: EmulatorCredentials;
  /** The service the addressed API signs as ('ebs', 'ec2'). */
  readonly service: string;
  readonly region: string;
  readonly nowMs: number;
  /** The session token was declared expired by the test. */
  readonly sessionTokenExpired: boolean;
}

/** null when the request is signed right; otherwise the failure AWS would answer with. */
export function verifySigV4(
  request: SignedRequest,
  options: VerifyOptions,
): SignatureFailure | null {
  const authorization = headerValue(request.headers, 'authorization');
  if (authorization === undefined)
    return {
      status: 403,
      code: 'MissingAuthenticationTokenException',
      message: 'Missing Authentication Token',
    };
  const match =
    /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]{64})$/.exec(
      authorization,
    );
  if (match === null)
    return {
      status: 400,
      code: 'IncompleteSignatureException',
      message: `Authorization header requires 'Credential', 'Signature' and 'SignedHeaders' parameters: ${authorization.slice(0, 40)}…`,
    };
  const [, accessKeyId, scopeDate, region, service, signedHeaders, signature] =
    match as unknown as [string, string, string, string, string, string, string];
  const { credentials } = options;
  if (accessKeyId !== credentials.accessKeyId)
    return {
      status: 403,
      code: 'UnrecognizedClientException',
      message: 'The security token included in the request is invalid.',
    };
  if (credentials.sessionToken !== undefined) {
    if (headerValue(request.headers, 'x-amz-security-token') !== credentials.sessionToken)
      return {
        status: 403,
        code: 'UnrecognizedClientException',
        message: 'The security token included in the request is invalid.',
      };
    if (options.sessionTokenExpired)
      return {
        status: 403,
        code: 'ExpiredTokenException',
        message: 'The security token included in the request is expired',
      };
  }
  if (service !== options.service || region !== options.region)
    return {
      status: 403,
      code: 'InvalidSignatureException',
      message: `Credential should be scoped to a valid region and service: expected ${options.region}/${options.service}, received ${region}/${service}.`,
    };
  const amzDate = headerValue(request.headers, 'x-amz-date') ?? '';
  const signedAtMs = parseAmzDate(amzDate);
  if (Number.isNaN(signedAtMs) || amzDate.slice(0, 8) !== scopeDate)
    return {
      status: 400,
      code: 'IncompleteSignatureException',
      message: `X-Amz-Date ${amzDate} is missing or does not match the credential scope date ${scopeDate}.`,
    };
  if (Math.abs(options.nowMs - signedAtMs) > MAX_SKEW_MS) {
    const early = signedAtMs < options.nowMs;
    return {
      status: 403,
      code: 'InvalidSignatureException',
      message: early
        ? `Signature expired: ${amzDate} is now earlier than ${formatAmzDate(options.nowMs - MAX_SKEW_MS)} (${formatAmzDate(options.nowMs)} - 15 min.)`
        : `Signature not yet current: ${amzDate} is still later than ${formatAmzDate(options.nowMs + MAX_SKEW_MS)} (${formatAmzDate(options.nowMs)} + 15 min.)`,
    };
  }
  const queryAt = request.rawUrl.indexOf('?');
  const rawPath = queryAt < 0 ? request.rawUrl : request.rawUrl.slice(0, queryAt);
  const canonicalUri = rawPath
    .split('/')
    .map((segment) => uriEncode(segment))
    .join('/');
  const headerNames = signedHeaders.split(';');
  if (!headerNames.includes('host'))
    return {
      status: 403,
      code: 'InvalidSignatureException',
      message: "'Host' must be a signed header.",
    };
  const canonicalHeaders = headerNames
    .map(
      (name) =>
        `${name}:${(headerValue(request.headers, name) ?? '').trim().replace(/\s+/g, ' ')}\n`,
    )
    .join('');
  const declaredPayload = headerValue(request.headers, 'x-amz-content-sha256');
  const bodyHash = createHash('sha256').update(request.body).digest('hex');
  if (
    declaredPayload !== undefined &&
    declaredPayload !== 'UNSIGNED-PAYLOAD' &&
    declaredPayload !== bodyHash
  )
    return {
      status: 400,
      code: 'InvalidSignatureException',
      message: "The provided 'x-amz-content-sha256' header does not match what was computed.",
    };
  const canonicalRequest = [
    request.method,
    canonicalUri,
    canonicalQuery(queryAt < 0 ? '' : request.rawUrl.slice(queryAt + 1)),
    canonicalHeaders,
    signedHeaders,
    declaredPayload ?? bodyHash,
  ].join('\n');
  const scope = `${scopeDate}/${region}/${service}/aws4_request`;
  const stringToSign = [
    'AWS4-HMAC-SHA256',
    amzDate,
    scope,
    createHash('sha256').update(canonicalRequest, 'utf8').digest('hex'),
  ].join('\n');
  const signingKey = hmac(
    hmac(hmac(hmac(`AWS4${credentials.secretAccessKey}`, scopeDate), region), service),
    'aws4_request',
  );
  const expected = createHmac('sha256', signingKey).update(stringToSign, 'utf8').digest();
  if (!timingSafeEqual(expected, Buffer.from(signature, 'hex')))
    return {
      status: 403,
      code: 'InvalidSignatureException',
      message:
        'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.',
    };
  return null;
}
