/**
 * Oracle Cloud Infrastructure request signatures, version 1: draft-cavage-http-signatures-08
 * with rsa-sha256, carried in the Authorization header (the "Signature" scheme):
 *
 *   Authorization: Signature version="1",keyId="<tenancy>/<user>/<fingerprint>",
 *     algorithm="rsa-sha256",headers="date (request-target) host[ content-length
 *     content-type x-content-sha256]",signature="<base64 RSA-SHA256 of the signing string>"
 *
 * The signing string is one "name: value" line per signed header, in that order, joined by
 * "\n"; `(request-target)` is "<method in lower case> <path and query>". Requests with a body
 * (POST, PUT, PATCH) also sign content-length, content-type and x-content-sha256, the base64
 * SHA-256 of the body, which is sent too. The fingerprint is the MD5 of the DER public key
 * (SubjectPublicKeyInfo), hex bytes joined by colons.
 */
import { createHash, createPrivateKey, createPublicKey, sign, type KeyObject } from 'node:crypto';

export interface OciCredentials {
  readonly tenancyId: string;
  readonly userId: string;
  /** PEM of the API signing key (PKCS#1 or PKCS#8). */
  readonly privateKeyPem: string;
  readonly passphrase?: string;
  /** Defaults to the fingerprint of the key's public half. */
  readonly fingerprint?: string;
}

export interface SignedRequest {
  readonly method: string;
  readonly url: URL;
  /** Lower-case names; includes the Authorization header. */
  readonly headers: Record<string, string>;
  readonly body?: string;
}

const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH']);

export function keyFingerprint(key: KeyObject): string {
  const der = (key.type === 'public' ? key : createPublicKey(key)).export({
    type: 'spki',
    format: 'der',
  });
  return (createHash('md5').update(der).digest('hex').match(/../g) ?? []).join(':');
}

/** The headers a request signs, in signing order. */
export function signedHeaderNames(method: string): string[] {
  return BODY_METHODS.has(method.toUpperCase())
    ? ['date', '(request-target)', 'host', 'content-length', 'content-type', 'x-content-sha256']
    : ['date', '(request-target)', 'host'];
}

/** The string a signature covers. `headers` are lower-case names. */
export function signingString(
  method: string,
  url: URL,
  headers: Readonly<Record<string, string>>,
  names: readonly string[],
): string {
  return names
    .map((name) =>
      name === '(request-target)'
        ? `(request-target): ${method.toLowerCase()} ${url.pathname}${url.search}`
        : `${name}: ${headers[name] ?? ''}`,
    )
    .join('\n');
}

export class OciRequestSigner {
  private readonly key: KeyObject;
  readonly keyId: string;

  constructor(credentials: OciCredentials) {
    this.key = createPrivateKey({
      key: credentials.privateKeyPem,
      ...(credentials.passphrase === undefined ? {} : { passphrase: credentials.passphrase }),
    });
    const fingerprint = credentials.fingerprint ?? keyFingerprint(this.key);
    this.keyId = `${credentials.tenancyId}/${credentials.userId}/${fingerprint}`;
  }

  /** Adds date, host, the body headers and Authorization to a request. */
  sign(
    method: string,
    url: URL,
    body?: string,
    extraHeaders: Readonly<Record<string, string>> = {},
    now: Date = new Date(),
  ): SignedRequest {
    const upper = method.toUpperCase();
    const headers: Record<string, string> = {
      ...Object.fromEntries(
        Object.entries(extraHeaders).map(([name, value]) => [name.toLowerCase(), value]),
      ),
      date: now.toUTCString(),
      host: url.host,
    };
    if (BODY_METHODS.has(upper)) {
      const payload = body ?? '';
      headers['content-type'] ??= 'application/json';
      headers['content-length'] = String(Buffer.byteLength(payload));
      headers['x-content-sha256'] = createHash('sha256').update(payload).digest('base64');
    }
    const names = signedHeaderNames(upper);
    const signature = sign(
      'sha256',
      Buffer.from(signingString(upper, url, headers, names)),
      this.key,
    ).toString('base64');
    headers.authorization =
      `Signature version="1",keyId="${this.keyId}",algorithm="rsa-sha256",` +
      `headers="${names.join(' ')}",signature="${signature}"`;
    return { method: upper, url, headers, ...(body === undefined ? {} : { body }) };
  }
}
