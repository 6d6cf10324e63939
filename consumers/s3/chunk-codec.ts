/**
 * Chunk names and bodies. A chunk's name is its content address plus the suffix of its
 * encoding, so every writer that sees the same bytes with the same settings picks the
 * same object, and a reader knows how to decode an object from its name alone:
 *
 *   plain        name = sha256(plaintext)                         body = plaintext
 *   .gz          name = sha256(plaintext).gz                      body = gzip(plaintext)
 *   .enc         name = HMAC-SHA256(address key, plaintext).enc   body = nonce ‖ AES-256-GCM(plaintext) ‖ tag
 *   .gz.enc      as .enc, of gzip(plaintext)
 *
 * Encryption is convergent but keyed: the nonce is the first 12 bytes of the name (a PRF of
 * the plaintext under a key of its own), and the name is the associated data. Equal
 * plaintexts give equal objects, so chunks still dedupe across disks and restore points of
 * every writer holding the key; a nonce repeats only for an identical plaintext, which
 * reveals only what equal names reveal already. Without the key nobody can test whether
 * the bucket holds a given plaintext (as a bare sha256 name would let them).
 *
 * Decoding checks everything: GCM authentication, the length the slot expects, and the
 * name recomputed from the plaintext.
 */
import { createCipheriv, createDecipheriv, webcrypto } from 'node:crypto';
import { promisify } from 'node:util';
import { gunzip, gzip } from 'node:zlib';
import { TargetError } from '../errors.js';
import { chunkAddress } from './bucket-layout.js';
import type { ChunkKeys } from './encryption-key.js';

const gzipAsync = promisify(gzip);
const gunzipAsync = promisify(gunzip);

export type Compression = 'none' | 'gzip';

export interface ChunkCodecOptions {
  readonly compression: Compression;
  /** gzip level 1 (fast) to 9; default 1. */
  readonly compressionLevel?: number;
  readonly keys: ChunkKeys | null;
}

export interface ChunkCodec {
  /** The key id written into manifests, or null without encryption. */
  readonly keyId: string | null;
  /** The name this codec gives `plaintext` (hashed in the thread pool). */
  nameOf(plaintext: Buffer): Promise<string>;
  encode(name: string, plaintext: Buffer): Promise<Buffer>;
  /** The plaintext of an object, checked against its name and the slot's length. */
  decode(name: string, body: Buffer, expectedBytes: number, where: string): Promise<Buffer>;
}

const NONCE_BYTES = 12;
const TAG_BYTES = 16;

function corrupt(name: string, where: string, problem: string): TargetError {
  return new TargetError(
    'EXTENTLOG_ERR_TARGET_CHUNK_CORRUPT',
    `chunk ${name} (${where}): ${problem}; the object was altered or damaged`,
    { details: { chunk: name, where } },
  );
}

export function createChunkCodec(options: ChunkCodecOptions): ChunkCodec {
  const { compression, keys } = options;
  const level = options.compressionLevel ?? 1;
  const suffix = (compression === 'gzip' ? '.gz' : '') + (keys === null ? '' : '.enc');

  let hmacKey: Promise<webcrypto.CryptoKey> | null = null;

  /**
   * sha256 or keyed HMAC-SHA256 of a chunk, through WebCrypto: it hashes in the thread pool,
   * so that replays and restores keep their transfers going while chunks are hashed.
   */
  async function addressOf(plaintext: Buffer, encrypted: boolean): Promise<string> {
    if (!encrypted)
      return Buffer.from(await webcrypto.subtle.digest('SHA-256', plaintext)).toString('hex');
    if (keys === null)
      throw new TargetError(
        'EXTENTLOG_ERR_TARGET_KEY',
        'an encrypted chunk (.enc) cannot be read without the encryption key: configure encryption.keyFile',
      );
    hmacKey ??= webcrypto.subtle.importKey(
      'raw',
      keys.addressKey,
      { name: 'HMAC', hash: 'SHA-256' },
      false,
      ['sign'],
    );
    return Buffer.from(await webcrypto.subtle.sign('HMAC', await hmacKey, plaintext)).toString(
      'hex',
    );
  }

  return {
    keyId: keys?.keyId ?? null,
    nameOf: async (plaintext) => (await addressOf(plaintext, keys !== null)) + suffix,
    async encode(name, plaintext) {
      let body = name.includes('.gz') ? await gzipAsync(plaintext, { level }) : plaintext;
      if (name.endsWith('.enc')) {
        const nonce = Buffer.from(chunkAddress(name), 'hex').subarray(0, NONCE_BYTES);
        const cipher = createCipheriv('aes-256-gcm', keys!.cipherKey, nonce);
        cipher.setAAD(Buffer.from(name));
        body = Buffer.concat([nonce, cipher.update(body), cipher.final(), cipher.getAuthTag()]);
      }
      return body;
    },
    async decode(name, body, expectedBytes, where) {
      let data = body;
      const encrypted = name.endsWith('.enc');
      if (encrypted) {
        if (keys === null) await addressOf(data, true); // throws the missing-key error
        if (data.length < NONCE_BYTES + TAG_BYTES)
          throw corrupt(name, where, `${data.length} bytes is too short for AES-GCM`);
        const decipher = createDecipheriv(
          'aes-256-gcm',
          keys!.cipherKey,
          data.subarray(0, NONCE_BYTES),
        );
        decipher.setAAD(Buffer.from(name));
        decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
        try {
          data = Buffer.concat([
            decipher.update(data.subarray(NONCE_BYTES, data.length - TAG_BYTES)),
            decipher.final(),
          ]);
        } catch {
          throw corrupt(name, where, 'AES-GCM authentication failed');
        }
      }
      if (name.includes('.gz')) {
        try {
          data = await gunzipAsync(data);
        } catch (error) {
          throw corrupt(name, where, `gzip data is invalid (${(error as Error).message})`);
        }
      }
      if (data.length !== expectedBytes)
        throw corrupt(name, where, `expected ${expectedBytes} bytes, received ${data.length}`);
      const address = await addressOf(data, encrypted);
      if (address !== chunkAddress(name))
        throw corrupt(
          name,
          where,
          `its content hashes to ${address}${encrypted ? ' (keyed)' : ''}, not to its name`,
        );
      return data;
    },
  };
}

const ZERO_PAGE = Buffer.alloc(64 * 1024);

/** Whether `data` holds only zero bytes. */
export function isAllZeros(data: Buffer): boolean {
  for (let offset = 0; offset < data.length; offset += ZERO_PAGE.length) {
    const end = Math.min(data.length, offset + ZERO_PAGE.length);
    if (data.compare(ZERO_PAGE, 0, end - offset, offset, end) !== 0) return false;
  }
  return true;
}
