/**
 * The server side of OCI request signatures (version 1, draft-cavage-http-signatures-08 with
 * rsa-sha256), as the emulator enforces them: the Authorization header's keyId must name the
 * test's tenancy, user and key fingerprint; the signed headers must include date,
 * (request-target) and host — and for bodies content-length, content-type and
 * x-content-sha256, which must match the body received; the date may be at most 5 minutes
 * off; and the RSA-SHA256 signature must verify with the test's public key.
 *
 * Written from the protocol description, independently of the client's signer: it rebuilds
 * the signing string from the request as received.
 */
import { createHash, verify, type KeyObject } from 'node:crypto';

export interface ReceivedRequest {
  readonly method: string;
  /** Path and query as received. */
  readonly target: string;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly body: Buffer | undefined;
}

export interface SignatureExpectation {
  readonly keyId: string;
  readonly publicKey: KeyObject;
  readonly now: Date;
}

const MAX_SKEW_MS = 5 * 60_000;

function header(request: ReceivedRequest, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
}

function parseParameters(authorization: string): Map<string, string> {
  const parameters = new Map<string, string>();
  for (const match of authorization.slice('Signature '.length).matchAll(/(\w+)="([^"]*)"/g))
    parameters.set(match[1] ?? '', match[2] ?? '');
  return parameters;
}

/** null when the request is properly signed; otherwise why not. */
export function checkOciSignature(
  request: ReceivedRequest,
  expected: SignatureExpectation,
): string | null {
  const authorization = header(request, 'authorization');
  if (authorization === undefined || !authorization.startsWith('Signature '))
    return 'the Authorization header is missing or not of the Signature scheme';
  const parameters = parseParameters(authorization);
  if (parameters.get('version') !== '1')
    return `signature version ${parameters.get('version')} is not 1`;
  if (parameters.get('algorithm') !== 'rsa-sha256')
    return `algorithm ${parameters.get('algorithm')} is not rsa-sha256`;
  if (parameters.get('keyId') !== expected.keyId)
    return `keyId ${parameters.get('keyId')} is not ${expected.keyId}`;
  const signed = (parameters.get('headers') ?? '').split(' ').filter((name) => name !== '');
  const method = request.method.toUpperCase();
  const hasBody = method === 'POST' || method === 'PUT' || method === 'PATCH';
  const required = ['date', '(request-target)', 'host'];
  if (hasBody) required.push('content-length', 'content-type', 'x-content-sha256');
  for (const name of required) if (!signed.includes(name)) return `header ${name} is not signed`;
  const date = Date.parse(header(request, 'date') ?? '');
  if (!Number.isFinite(date) || Math.abs(date - expected.now.getTime()) > MAX_SKEW_MS)
    return `the date header ${header(request, 'date')} is more than 5 minutes off`;
  if (hasBody) {
    const body = request.body ?? Buffer.alloc(0);
    if (header(request, 'content-length') !== String(body.length))
      return `content-length ${header(request, 'content-length')} is not the ${body.length} bytes received`;
    if (header(request, 'x-content-sha256') !== createHash('sha256').update(body).digest('base64'))
      return 'x-content-sha256 does not match the body received';
  }
  const signingString = signed
    .map((name) =>
      name === '(request-target)'
        ? `(request-target): ${method.toLowerCase()} ${request.target}`
        : `${name}: ${header(request, name) ?? ''}`,
    )
    .join('\n');
  const signature = Buffer.from(parameters.get('signature') ?? '', 'base64');
  return verify('sha256', Buffer.from(signingString), expected.publicKey, signature)
    ? null
    : 'the signature does not verify with the public key of the keyId';
}
