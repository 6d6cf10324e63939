/**
 * SASL PLAIN (RFC 4616): one client message `[authzid] NUL authcid NUL passwd`, an empty
 * server response. Only sensible over TLS or loopback; the broker does not enforce that.
 */
import { timingSafeEqual } from 'node:crypto';
import { SaslFailure, type SaslExchange } from './sasl-authority.js';

export function createPlainExchange(
  passwordOf: (username: string) => string | undefined,
): SaslExchange {
  return {
    mechanism: 'PLAIN',
    step(token) {
      const parts = token.toString('utf8').split('\0');
      if (parts.length !== 3) throw new SaslFailure('malformed PLAIN message: expected 3 fields');
      const [authzid, username, password] = parts as [string, string, string];
      if (authzid !== '' && authzid !== username) {
        throw new SaslFailure(`authorization id '${authzid}' differs from user '${username}'`);
      }
      const expected = passwordOf(username);
      if (expected === undefined || !sameSecret(expected, password)) {
        throw new SaslFailure(`authentication failed for user '${username}': invalid credentials`);
      }
      return { response: Buffer.alloc(0), done: true };
    },
  };
}

function sameSecret(expected: string, received: string): boolean {
  const a = Buffer.from(expected);
  const b = Buffer.from(received);
  return a.length === b.length && timingSafeEqual(a, b);
}
