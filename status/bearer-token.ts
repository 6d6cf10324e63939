/**
 * The bearer token that guards the status API's actions (RFC 6750 `Authorization: Bearer`).
 * It comes from a file, never from the command line or the configuration itself, and is
 * compared in constant time: both sides are hashed to 32 bytes first, so neither the
 * comparison nor an early length check tells an attacker how much of a guess was right.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { StatusError } from './errors.js';

/** Shorter tokens are refused: they could be guessed over the network. */
export const MIN_TOKEN_LENGTH = 16;

export interface BearerToken {
  /** True when `authorization` is `Bearer <token>` with exactly this token. */
  accepts(authorization: string | undefined): boolean;
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

export function bearerToken(token: string): BearerToken {
  if (token.length < MIN_TOKEN_LENGTH) {
    throw new StatusError(
      'EXTENTLOG_ERR_STATUS_TOKEN_FILE',
      `the status API token has ${token.length} characters; at least ${MIN_TOKEN_LENGTH} are required (e.g. 'openssl rand -hex 32')`,
    );
  }
  const expected = digest(token);
  return {
    accepts(authorization) {
      const match = /^Bearer[ ]+(\S+)\s*$/i.exec(authorization ?? '');
      // Hash even a missing credential, so that every refusal costs the same.
      return timingSafeEqual(digest(match?.[1] ?? ''), expected) && match !== null;
    },
  };
}

/**
 * Reads the token from the first line of `file` (surrounding whitespace ignored) and
 * checks it is long enough; `bearerToken` turns it into the checker.
 */
export async function readBearerTokenFile(file: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new StatusError(
      'EXTENTLOG_ERR_STATUS_TOKEN_FILE',
      `cannot read the status API token file ${file}: ${(error as Error).message}`,
      { cause: error },
    );
  }
  const token = text.split('\n')[0]?.trim() ?? '';
  if (token === '') {
    throw new StatusError(
      'EXTENTLOG_ERR_STATUS_TOKEN_FILE',
      `the status API token file ${file} is empty; write a token of at least ${MIN_TOKEN_LENGTH} characters to its first line`,
    );
  }
  try {
    bearerToken(token);
  } catch (error) {
    throw new StatusError(
      'EXTENTLOG_ERR_STATUS_TOKEN_FILE',
      `${file}: ${(error as Error).message}`,
    );
  }
  return token;
}
