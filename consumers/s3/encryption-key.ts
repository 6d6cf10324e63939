/**
 * The client-side encryption key: 32 bytes from a file (raw, 64 hex digits, or base64),
 * never from the configuration itself. Three keys are derived from it with HKDF-SHA256
 * (RFC 5869), so that no key serves two purposes:
 *
 *   address key  HMAC-SHA256 key naming chunks: name = HMAC(address key, plaintext)
 *   cipher key   AES-256-GCM key of chunk bodies
 *   key id       8 bytes, hex, written into manifests: tells a wrong key from a damaged chunk
 */
import { hkdfSync } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { describeError } from '../../errors/extentlog-error.js';
import { TargetError } from '../errors.js';

export interface ChunkKeys {
  readonly addressKey: Buffer;
  readonly cipherKey: Buffer;
  readonly keyId: string;
}

const SALT = Buffer.from('extentlog-s3-chunks-v1');

function derive(master: Buffer, info: string, lengthBytes: number): Buffer {
  return Buffer.from(hkdfSync('sha256', master, SALT, Buffer.from(info), lengthBytes));
}

export function deriveChunkKeys(master: Buffer): ChunkKeys {
  return {
    addressKey: derive(master, 'chunk-address', 32),
    cipherKey: derive(master, 'chunk-cipher', 32),
    keyId: derive(master, 'key-id', 8).toString('hex'),
  };
}

/** The 32 key bytes of a key file's contents, or null when they are none of the accepted forms. */
export function parseKeyBytes(contents: Buffer): Buffer | null {
  if (contents.length === 32) return contents;
  const text = contents.toString('utf8').trim();
  if (/^[0-9a-fA-F]{64}$/.test(text)) return Buffer.from(text, 'hex');
  if (/^[A-Za-z0-9+/]{43}=?$/.test(text)) {
    const bytes = Buffer.from(text, 'base64');
    if (bytes.length === 32) return bytes;
  }
  return null;
}

export async function loadChunkKeys(keyFile: string): Promise<ChunkKeys> {
  let contents: Buffer;
  try {
    contents = await readFile(keyFile);
  } catch (error) {
    throw new TargetError(
      'EXTENTLOG_ERR_TARGET_KEY',
      `encryption key file ${keyFile} cannot be read: ${describeError(error)}`,
      { cause: error, details: { keyFile } },
    );
  }
  const master = parseKeyBytes(contents);
  if (master === null)
    throw new TargetError(
      'EXTENTLOG_ERR_TARGET_KEY',
      `encryption key file ${keyFile}: expected 32 raw bytes, 64 hex digits or 32 bytes in base64, received ${contents.length} bytes of something else (make one with: head -c 32 /dev/urandom > ${keyFile})`,
      { details: { keyFile } },
    );
  return deriveChunkKeys(master);
}
