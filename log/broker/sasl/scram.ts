/**
 * SASL SCRAM-SHA-256 / SCRAM-SHA-512, server side (RFC 5802 §5, RFC 7677), without channel
 * binding (gs2 header `n,,` or `y,,`), as Kafka runs it (KIP-84):
 *
 *   C: n,,n=user,r=cnonce                      client-first
 *   S: r=cnonce+snonce,s=salt,i=iterations     server-first
 *   C: c=biws,r=cnonce+snonce,p=proof          client-final
 *   S: v=server-signature                      server-final
 *
 * The server keeps StoredKey = H(HMAC(SaltedPassword, "Client Key")) and ServerKey, never
 * the password, and checks H(proof XOR HMAC(StoredKey, AuthMessage)) == StoredKey.
 */
import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';
import { SaslFailure, type SaslExchange, type SaslMechanism } from './sasl-authority.js';

const ITERATIONS = 4096;

export interface ScramCredentials {
  readonly salt: Buffer;
  readonly iterations: number;
  readonly storedKey: Buffer;
  readonly serverKey: Buffer;
}

type Hash = 'sha256' | 'sha512';

const hmac = (hash: Hash, key: Buffer, text: string) => createHmac(hash, key).update(text).digest();

export function scramCredentials(hash: Hash, password: string): ScramCredentials {
  const salt = randomBytes(16);
  const keyBytes = hash === 'sha256' ? 32 : 64;
  const salted = pbkdf2Sync(password.normalize('NFKC'), salt, ITERATIONS, keyBytes, hash);
  return {
    salt,
    iterations: ITERATIONS,
    storedKey: createHash(hash)
      .update(hmac(hash, salted, 'Client Key'))
      .digest(),
    serverKey: hmac(hash, salted, 'Server Key'),
  };
}

/** Parses `k=v,k=v` attributes (values may contain '='). */
function attributes(message: string): Map<string, string> {
  const map = new Map<string, string>();
  for (const part of message.split(',')) {
    const at = part.indexOf('=');
    if (at === 1) map.set(part.slice(0, 1), part.slice(2));
  }
  return map;
}

/** RFC 5802 saslname: ',' and '=' arrive escaped as '=2C' and '=3D'. */
function decodeSaslName(name: string): string {
  return name.replace(/=2C/g, ',').replace(/=3D/g, '=');
}

export function createScramExchange(
  mechanism: SaslMechanism,
  hash: Hash,
  credentialsOf: (username: string) => ScramCredentials | undefined,
): SaslExchange {
  let stage: 'first' | 'final' | 'done' = 'first';
  let clientFirstBare = '';
  let serverFirst = '';
  let gs2Header = '';
  let nonce = '';
  let username = '';
  let credentials: ScramCredentials | undefined;

  const first = (message: string) => {
    const match = /^([ny]),(a=[^,]*)?,(.*)$/.exec(message);
    if (match === null) throw new SaslFailure(`malformed ${mechanism} client-first message`);
    gs2Header = `${match[1]},${match[2] ?? ''},`;
    clientFirstBare = match[3] as string;
    const attrs = attributes(clientFirstBare);
    const clientNonce = attrs.get('r');
    username = decodeSaslName(attrs.get('n') ?? '');
    if (clientNonce === undefined || username === '') {
      throw new SaslFailure(`malformed ${mechanism} client-first message: missing n= or r=`);
    }
    credentials = credentialsOf(username);
    if (credentials === undefined) {
      throw new SaslFailure(`authentication failed for user '${username}': invalid credentials`);
    }
    nonce = clientNonce + randomBytes(18).toString('base64');
    serverFirst = `r=${nonce},s=${credentials.salt.toString('base64')},i=${credentials.iterations}`;
    stage = 'final';
    return { response: Buffer.from(serverFirst), done: false };
  };

  const final = (message: string, known: ScramCredentials) => {
    const attrs = attributes(message);
    const proof = Buffer.from(attrs.get('p') ?? '', 'base64');
    // Kafka accepts any nonce that ends with the server's (librdkafka ≤ 2.x repeats the
    // client nonce in front of it); the signature still covers the message as sent.
    if (!(attrs.get('r') ?? '').endsWith(nonce))
      throw new SaslFailure(`${mechanism}: nonce mismatch`);
    if (attrs.get('c') !== Buffer.from(gs2Header).toString('base64')) {
      throw new SaslFailure(`${mechanism}: channel binding mismatch`);
    }
    const withoutProof = message.slice(0, message.lastIndexOf(',p='));
    const authMessage = `${clientFirstBare},${serverFirst},${withoutProof}`;
    const signature = hmac(hash, known.storedKey, authMessage);
    if (proof.length !== signature.length) {
      throw new SaslFailure(`authentication failed for user '${username}': invalid credentials`);
    }
    const clientKey = Buffer.alloc(proof.length);
    for (let i = 0; i < proof.length; i++)
      clientKey[i] = (proof[i] as number) ^ (signature[i] as number);
    const storedKey = createHash(hash).update(clientKey).digest();
    if (!timingSafeEqual(storedKey, known.storedKey)) {
      throw new SaslFailure(`authentication failed for user '${username}': invalid credentials`);
    }
    stage = 'done';
    const serverSignature = hmac(hash, known.serverKey, authMessage).toString('base64');
    return { response: Buffer.from(`v=${serverSignature}`), done: true };
  };

  return {
    mechanism,
    step(token) {
      const message = token.toString('utf8');
      if (stage === 'first') return first(message);
      if (stage === 'final' && credentials !== undefined) return final(message, credentials);
      throw new SaslFailure(`${mechanism}: unexpected message after authentication`);
    },
  };
}
