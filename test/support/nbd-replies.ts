/**
 * Encoders for NBD server messages (proto.md "Structured reply chunk message", "Simple
 * reply message"), for tests that need a reply no real server sends: wrong magics, unknown
 * types, overlapping chunks, error values. Real server bytes come from the fixtures in
 * test/fixtures/nbd/.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  NBD_REPLY_FLAG_DONE,
  NBD_REPLY_TYPE,
  NBD_SIMPLE_REPLY_MAGIC,
  NBD_STRUCTURED_REPLY_MAGIC,
} from '../../producers/nbd/nbd-constants.js';
import type { NbdFixture } from '../fixtures/nbd/capture.js';

export const STRUCTURED_MAGIC = NBD_STRUCTURED_REPLY_MAGIC;
export const DONE = NBD_REPLY_FLAG_DONE;
export const TYPE = NBD_REPLY_TYPE;

export function chunk(options: {
  handle: number;
  type: number;
  flags?: number;
  payload?: Buffer;
  magic?: number;
}): Buffer {
  const payload = options.payload ?? Buffer.alloc(0);
  const header = Buffer.alloc(20);
  header.writeUInt32BE(options.magic ?? STRUCTURED_MAGIC, 0);
  header.writeUInt16BE(options.flags ?? 0, 4);
  header.writeUInt16BE(options.type, 6);
  header.writeUInt32BE(0, 8);
  header.writeUInt32BE(options.handle, 12);
  header.writeUInt32BE(payload.length, 16);
  return Buffer.concat([header, payload]);
}

export function offsetData(handle: number, offsetBytes: number, data: Buffer, flags = 0): Buffer {
  const payload = Buffer.alloc(8 + data.length);
  payload.writeBigUInt64BE(BigInt(offsetBytes), 0);
  data.copy(payload, 8);
  return chunk({ handle, type: TYPE.OFFSET_DATA, flags, payload });
}

export function offsetHole(
  handle: number,
  offsetBytes: number,
  lengthBytes: number,
  flags = 0,
): Buffer {
  const payload = Buffer.alloc(12);
  payload.writeBigUInt64BE(BigInt(offsetBytes), 0);
  payload.writeUInt32BE(lengthBytes, 8);
  return chunk({ handle, type: TYPE.OFFSET_HOLE, flags, payload });
}

export function blockStatus(
  handle: number,
  contextId: number,
  descriptors: readonly [lengthBytes: number, flags: number][],
  flags = 0,
): Buffer {
  const payload = Buffer.alloc(4 + descriptors.length * 8);
  payload.writeUInt32BE(contextId, 0);
  descriptors.forEach(([lengthBytes, status], index) => {
    payload.writeUInt32BE(lengthBytes, 4 + index * 8);
    payload.writeUInt32BE(status, 8 + index * 8);
  });
  return chunk({ handle, type: TYPE.BLOCK_STATUS, flags, payload });
}

export function errorChunk(handle: number, errno: number, message = '', flags = DONE): Buffer {
  const text = Buffer.from(message, 'utf8');
  const payload = Buffer.alloc(6 + text.length);
  payload.writeUInt32BE(errno, 0);
  payload.writeUInt16BE(text.length, 4);
  text.copy(payload, 6);
  return chunk({ handle, type: TYPE.ERROR, flags, payload });
}

export function done(handle: number): Buffer {
  return chunk({ handle, type: TYPE.NONE, flags: DONE });
}

export function simpleReply(handle: number, errno: number): Buffer {
  const reply = Buffer.alloc(16);
  reply.writeUInt32BE(NBD_SIMPLE_REPLY_MAGIC, 0);
  reply.writeUInt32BE(errno, 4);
  reply.writeUInt32BE(0, 8);
  reply.writeUInt32BE(handle, 12);
  return reply;
}

const fixturesDir = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '../../../test/fixtures/nbd',
);

export async function loadNbdFixture(name: string): Promise<NbdFixture> {
  return JSON.parse(await readFile(path.join(fixturesDir, name), 'utf8')) as NbdFixture;
}
