/**
 * Loads kafkajs with a hardware CRC-32C.
 *
 * kafkajs computes the CRC-32C of every record batch it produces in pure JavaScript, which
 * costs about 40 % of its CPU when producing large records. Its batch encoder takes the
 * function from one internal module (`src/protocol/recordBatch/crc32C/index.js`, a function
 * of a Buffer returning the unsigned CRC). Before kafkajs is first required we put
 * `@node-rs/crc32`'s SSE4.2 implementation in that module's place in the CommonJS cache.
 * kafkajs 2.2.4 is pinned in package.json; if the module is not where expected, kafkajs is
 * loaded unchanged and `crcAccelerated` says so.
 */
import { crc32c } from '@node-rs/crc32';
import { existsSync } from 'node:fs';
import Module, { createRequire } from 'node:module';
import path from 'node:path';
import type * as KafkaJS from 'kafkajs';

const require = createRequire(import.meta.url);

function installCrc(): boolean {
  const kafkajsRoot = path.dirname(require.resolve('kafkajs/package.json'));
  const crcModulePath = path.join(
    kafkajsRoot,
    'src',
    'protocol',
    'recordBatch',
    'crc32C',
    'index.js',
  );
  if (!existsSync(crcModulePath)) return false;
  if (require.cache[crcModulePath] !== undefined) return true;
  const replacement = new Module(crcModulePath);
  replacement.filename = crcModulePath;
  replacement.loaded = true;
  replacement.exports = (buffer: Buffer): number => crc32c(buffer) >>> 0;
  require.cache[crcModulePath] = replacement;
  return true;
}

export const crcAccelerated: boolean = installCrc();

export const kafkajs: typeof KafkaJS = require('kafkajs') as typeof KafkaJS;
