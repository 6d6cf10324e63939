/**
 * Block and page tokens of the emulated EBS direct APIs: opaque base64 (pattern
 * ^[A-Za-z0-9+/=]+$, at most 256 characters) that the emulator can check — a block token
 * names its snapshot, block and expiry under an HMAC, so a token of another block, a forged
 * one or an expired one is refused (ValidationException, INVALID_BLOCK_TOKEN); a page token
 * names the listing it continues (INVALID_PAGE_TOKEN otherwise).
 */
import { createHmac, randomBytes } from 'node:crypto';

export class TokenMint {
  readonly #key = randomBytes(32);

  #sign(payload: string): string {
    return createHmac('sha256', this.#key).update(payload).digest('hex').slice(0, 32);
  }

  #seal(payload: string): string {
    return Buffer.from(`${payload}|${this.#sign(payload)}`).toString('base64');
  }

  #open(token: string): string[] | null {
    if (!/^[A-Za-z0-9+/=]{1,256}$/.test(token)) return null;
    const text = Buffer.from(token, 'base64').toString('utf8');
    const at = text.lastIndexOf('|');
    if (at < 0) return null;
    const payload = text.slice(0, at);
    return this.#sign(payload) === text.slice(at + 1) ? payload.split(':') : null;
  }

  blockToken(snapshotId: string, blockIndex: number, expiresAtMs: number): string {
    return this.#seal(`b:${snapshotId}:${blockIndex}:${expiresAtMs}`);
  }

  /** 'ok', or why the token does not read this block now. */
  checkBlockToken(
    token: string,
    snapshotId: string,
    blockIndex: number,
    nowMs: number,
  ): 'ok' | 'invalid' | 'expired' {
    const parts = this.#open(token);
    if (
      parts === null ||
      parts[0] !== 'b' ||
      parts[1] !== snapshotId ||
      Number(parts[2]) !== blockIndex
    )
      return 'invalid';
    return Number(parts[3]) < nowMs ? 'expired' : 'ok';
  }

  pageToken(listing: string, nextBlockIndex: number): string {
    return this.#seal(`p:${listing}:${nextBlockIndex}`);
  }

  /** The block index a page token continues from, or null when it is not one of `listing`. */
  readPageToken(token: string, listing: string): number | null {
    const parts = this.#open(token);
    if (parts === null || parts[0] !== 'p' || parts.slice(1, -1).join(':') !== listing) return null;
    const next = Number(parts.at(-1));
    return Number.isSafeInteger(next) ? next : null;
  }
}
