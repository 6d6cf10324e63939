/**
 * The per-disk hash file of the image source: one digest per block of the disk, as of the
 * last committed cycle. It lives in the source's stateDir, not in the log, because of its
 * size — 16 bytes per 4 KiB block is 4 MiB per GiB of disk (4 GiB for a 1 TiB disk) — and
 * because only this source ever reads it.
 *
 *   0         8     10    12          16               24    26     28           124     128
 *   +---------+-----+-----+-----------+----------------+-----+------+------------+-------+
 *   | magic   | ver | alg | blockSize | diskSizeBytes  | dig | rlen | reference  | crc32c|
 *   | EXTLHMAP| u16 | u16 | u32       | u64            | u16 | u16  | utf-8, ≤96 | u32   |
 *   +---------+-----+-----+-----------+----------------+-----+------+------------+-------+
 *   then digest[block] at 128 + block · dig, for every block of the disk (little-endian ints;
 *   crc32c over bytes [0, 124)).
 *
 * An all-zero digest means "this block reads as zeros" (a hole or a block of zeros), so the
 * file is created sparse and zero blocks cost neither writes nor space.
 *
 * A cycle writes `<disk>.hashmap.next`; its header is written last, after the digests are
 * durable, so a `.next` with a valid header is complete. `promote()` renames it over
 * `<disk>.hashmap` and syncs the directory.
 */
import { crc32c } from '@node-rs/crc32';
import { open, rename, rm, type FileHandle } from 'node:fs/promises';
import path from 'node:path';

export const HASH_FILE_HEADER_BYTES = 128;
const MAGIC = Buffer.from('EXTLHMAP', 'latin1');
const VERSION = 1;
const REFERENCE_MAX_BYTES = 96;
const CRC_OFFSET = 124;

export interface HashFileHeader {
  readonly algorithmId: number;
  readonly blockSizeBytes: number;
  readonly diskSizeBytes: number;
  readonly digestBytes: number;
  /** The reference of the cycle that wrote the file. */
  readonly reference: string;
}

export type HashFileStatus =
  | { readonly kind: 'missing' }
  | { readonly kind: 'invalid'; readonly reason: string }
  | { readonly kind: 'valid'; readonly header: HashFileHeader };

export interface HashFilePaths {
  readonly current: string;
  readonly next: string;
}

/** File names keep any disk id (`vm-42/scsi0:1`) inside stateDir and distinct from others. */
export function hashFilePaths(stateDir: string, diskId: string): HashFilePaths {
  const name = encodeURIComponent(diskId).replace(/^\./, '%2E');
  const current = path.join(stateDir, `${name}.hashmap`);
  return { current, next: `${current}.next` };
}

export function blockCount(header: Pick<HashFileHeader, 'blockSizeBytes' | 'diskSizeBytes'>) {
  return Math.ceil(header.diskSizeBytes / header.blockSizeBytes);
}

function expectedFileBytes(header: HashFileHeader): number {
  return HASH_FILE_HEADER_BYTES + blockCount(header) * header.digestBytes;
}

export function encodeHeader(header: HashFileHeader): Buffer {
  const reference = Buffer.from(header.reference, 'utf8');
  if (reference.length > REFERENCE_MAX_BYTES)
    throw new RangeError(`hash file reference longer than ${REFERENCE_MAX_BYTES} bytes`);
  const bytes = Buffer.alloc(HASH_FILE_HEADER_BYTES);
  MAGIC.copy(bytes, 0);
  bytes.writeUInt16LE(VERSION, 8);
  bytes.writeUInt16LE(header.algorithmId, 10);
  bytes.writeUInt32LE(header.blockSizeBytes, 12);
  bytes.writeBigUInt64LE(BigInt(header.diskSizeBytes), 16);
  bytes.writeUInt16LE(header.digestBytes, 24);
  bytes.writeUInt16LE(reference.length, 26);
  reference.copy(bytes, 28);
  bytes.writeUInt32LE(crc32c(bytes.subarray(0, CRC_OFFSET)), CRC_OFFSET);
  return bytes;
}

/** Decodes a header, or says why the bytes are not one. */
export function decodeHeader(bytes: Buffer): HashFileHeader | string {
  if (bytes.length < HASH_FILE_HEADER_BYTES) return `header is ${bytes.length} bytes, expected 128`;
  if (!bytes.subarray(0, 8).equals(MAGIC)) return 'no hash file magic (incomplete or foreign file)';
  const crc = crc32c(bytes.subarray(0, CRC_OFFSET));
  if (crc !== bytes.readUInt32LE(CRC_OFFSET)) return 'header checksum mismatch';
  const version = bytes.readUInt16LE(8);
  if (version !== VERSION) return `format version ${version}, this build reads ${VERSION}`;
  const referenceBytes = bytes.readUInt16LE(26);
  if (referenceBytes > REFERENCE_MAX_BYTES) return 'reference length out of range';
  return {
    algorithmId: bytes.readUInt16LE(10),
    blockSizeBytes: bytes.readUInt32LE(12),
    diskSizeBytes: Number(bytes.readBigUInt64LE(16)),
    digestBytes: bytes.readUInt16LE(24),
    reference: bytes.toString('utf8', 28, 28 + referenceBytes),
  };
}

export async function readHashFileStatus(filePath: string): Promise<HashFileStatus> {
  let handle: FileHandle;
  try {
    handle = await open(filePath, 'r');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'missing' };
    throw error;
  }
  try {
    const bytes = Buffer.alloc(HASH_FILE_HEADER_BYTES);
    const { bytesRead } = await handle.read(bytes, 0, bytes.length, 0);
    const header = decodeHeader(bytes.subarray(0, bytesRead));
    if (typeof header === 'string') return { kind: 'invalid', reason: header };
    const { size } = await handle.stat();
    if (size !== expectedFileBytes(header))
      return {
        kind: 'invalid',
        reason: `file is ${size} bytes, its header implies ${expectedFileBytes(header)}`,
      };
    return { kind: 'valid', header };
  } finally {
    await handle.close();
  }
}

/** Reads the digests of a previous cycle, one window at a time. */
export class HashFileReader {
  private constructor(
    private readonly handle: FileHandle,
    readonly header: HashFileHeader,
  ) {}

  static async open(filePath: string, header: HashFileHeader): Promise<HashFileReader> {
    return new HashFileReader(await open(filePath, 'r'), header);
  }

  /** Digests of blocks [firstBlock, firstBlock + blocks). */
  async readDigests(firstBlock: number, blocks: number): Promise<Buffer> {
    const digests = Buffer.allocUnsafe(blocks * this.header.digestBytes);
    const positionBytes = HASH_FILE_HEADER_BYTES + firstBlock * this.header.digestBytes;
    let doneBytes = 0;
    while (doneBytes < digests.length) {
      const { bytesRead } = await this.handle.read(
        digests,
        doneBytes,
        digests.length - doneBytes,
        positionBytes + doneBytes,
      );
      if (bytesRead === 0) throw new Error(`hash file ended at byte ${positionBytes + doneBytes}`);
      doneBytes += bytesRead;
    }
    return digests;
  }

  close(): Promise<void> {
    return this.handle.close();
  }
}

/** Writes the digests of the running cycle into `<disk>.hashmap.next`. */
export class HashFileWriter {
  private constructor(
    private readonly handle: FileHandle,
    readonly header: HashFileHeader,
  ) {}

  /** Creates (or replaces) the file, sparse, at its full size with an all-zero header. */
  static async create(filePath: string, header: HashFileHeader): Promise<HashFileWriter> {
    const handle = await open(filePath, 'w');
    try {
      await handle.truncate(expectedFileBytes(header));
    } catch (error) {
      await handle.close();
      throw error;
    }
    return new HashFileWriter(handle, header);
  }

  /** Writes digests for blocks starting at `firstBlock`; all-zero runs stay holes. */
  async writeDigests(firstBlock: number, digests: Buffer): Promise<void> {
    if (isAllZero(digests)) return;
    const positionBytes = HASH_FILE_HEADER_BYTES + firstBlock * this.header.digestBytes;
    let doneBytes = 0;
    while (doneBytes < digests.length) {
      const { bytesWritten } = await this.handle.write(
        digests,
        doneBytes,
        digests.length - doneBytes,
        positionBytes + doneBytes,
      );
      doneBytes += bytesWritten;
    }
  }

  /** Makes the digests durable, then writes the header that marks the file complete. */
  async finish(): Promise<void> {
    await this.handle.datasync();
    await this.handle.write(encodeHeader(this.header), 0, HASH_FILE_HEADER_BYTES, 0);
    await this.handle.datasync();
  }

  close(): Promise<void> {
    return this.handle.close();
  }
}

const ZERO_PAGE = Buffer.alloc(64 * 1024);

export function isAllZero(bytes: Buffer): boolean {
  for (let offset = 0; offset < bytes.length; offset += ZERO_PAGE.length) {
    const end = Math.min(bytes.length, offset + ZERO_PAGE.length);
    if (bytes.compare(ZERO_PAGE, 0, end - offset, offset, end) !== 0) return false;
  }
  return true;
}

/** Renames a complete `.next` over the current file and makes the rename durable. */
export async function promote(paths: HashFilePaths): Promise<void> {
  await rename(paths.next, paths.current);
  const dir = await open(path.dirname(paths.current), 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}

export async function removeNext(paths: HashFilePaths): Promise<void> {
  await rm(paths.next, { force: true });
}
