/**
 * The `fileio` addon: Linux file and block-device calls Node.js does not expose —
 * fallocate(2) (punch hole, zero range, allocate), lseek(2) SEEK_DATA/SEEK_HOLE, the block
 * device ioctls of include/uapi/linux/fs.h (BLKGETSIZE64, BLKSSZGET, BLKPBSZGET, BLKDISCARD,
 * BLKZEROOUT) — and XXH3-128 block hashing through libxxhash. Every blocking call runs on
 * libuv's thread pool. This wrapper validates arguments and translates the kernel's errno
 * into `NativeError`.
 *
 * Offsets and lengths are bytes; ranges are half-open [offsetBytes, offsetBytes + lengthBytes).
 * Pure-TypeScript fallbacks (writing zeros, SHA-256 digests) live in `fallbacks.ts`; callers
 * choose them explicitly.
 */
import { loadAddon } from '../addon-loader.js';
import { callNative, checkFd as checkFdOf, invalidArgument } from '../native-call.js';

interface FileioAddon {
  fallocate(fd: number, mode: number, offsetBytes: number, lengthBytes: number): Promise<void>;
  seek(fd: number, offsetBytes: number, whence: number): Promise<number>;
  blkGetSize64(fd: number): Promise<number>;
  blkSectorSizes(fd: number): Promise<BlockDeviceSectorSizes>;
  blkDiscard(fd: number, offsetBytes: number, lengthBytes: number): Promise<void>;
  blkZeroOut(fd: number, offsetBytes: number, lengthBytes: number): Promise<void>;
  hashBlocksSync(input: Buffer, blockSizeBytes: number, output: Buffer): void;
  hashBlocksAsync(input: Buffer, blockSizeBytes: number, output: Buffer): Promise<void>;
  readonly constants: Readonly<Record<string, number>>;
}

export interface BlockDeviceSectorSizes {
  /** BLKSSZGET: the smallest unit the device addresses. */
  readonly logicalBytes: number;
  /** BLKPBSZGET: the unit the device writes without read-modify-write. */
  readonly physicalBytes: number;
}

/** Context for error messages only: the path the fd was opened from. */
export interface CallContext {
  readonly path?: string;
}

/**
 * - `punch-hole`: deallocate; the range reads as zeros, the file size is kept.
 * - `zero-range` / `zero-range-keep-size`: the range reads as zeros, blocks stay allocated.
 * - `allocate` / `allocate-keep-size`: reserve blocks (posix_fallocate semantics, no zeroing of data).
 */
export type FallocateMode =
  'allocate' | 'allocate-keep-size' | 'punch-hole' | 'zero-range' | 'zero-range-keep-size';

export const ADDON_NAME = 'fileio';
/** Bytes per digest of `hashBlocks` (XXH3-128, canonical big-endian form as `xxhsum -H2` prints). */
export const XXH3_128_DIGEST_BYTES = 16;
/**
 * Buffers below this are hashed on the calling thread. Measured on a 2-core machine: a
 * thread-pool round trip costs ~30 µs, the same as hashing ~500 KiB (XXH3 runs at ~17 GB/s);
 * at 1 MiB the synchronous call blocks the event loop for ~60 µs, past which the worker wins.
 */
export const HASH_ON_THREAD_POOL_FROM_BYTES = 1024 * 1024;

const handle = loadAddon<FileioAddon>(
  ADDON_NAME,
  import.meta.url,
  'install the Debian packages libxxhash-dev and build-essential, then run `npm run build:native`',
);

/** Whether the addon is built and loadable. */
export function isAvailable(): boolean {
  return handle.isAvailable();
}

function loaded(neededFor?: string): FileioAddon {
  return handle.get(neededFor);
}

/** Throws `NativeError` (EXTENTLOG_ERR_NATIVE_NOT_BUILT) naming `neededFor` unless the addon loads. */
export function assertAvailable(neededFor: string): void {
  loaded(neededFor);
}

function invalid(name: string, expected: string, received: unknown) {
  return invalidArgument(ADDON_NAME, name, expected, received);
}

function checkFd(fd: number): void {
  checkFdOf(ADDON_NAME, fd);
}

function checkBytes(name: string, value: number, minimum: number): void {
  if (!Number.isSafeInteger(value) || value < minimum)
    throw invalid(name, `a safe integer ≥ ${minimum}`, value);
}

function checkRange(offsetBytes: number, lengthBytes: number): void {
  checkBytes('offsetBytes', offsetBytes, 0);
  checkBytes('lengthBytes', lengthBytes, 1);
  if (!Number.isSafeInteger(offsetBytes + lengthBytes))
    throw invalid('offsetBytes + lengthBytes', 'a safe integer', offsetBytes + lengthBytes);
}

const call = callNative;

function fallocateFlags(mode: FallocateMode): number {
  const c = loaded().constants;
  const flag = (name: string): number => c[name] ?? 0;
  switch (mode) {
    case 'allocate':
      return 0;
    case 'allocate-keep-size':
      return flag('FALLOC_FL_KEEP_SIZE');
    case 'punch-hole':
      // The kernel requires KEEP_SIZE with PUNCH_HOLE.
      return flag('FALLOC_FL_PUNCH_HOLE') | flag('FALLOC_FL_KEEP_SIZE');
    case 'zero-range':
      return flag('FALLOC_FL_ZERO_RANGE');
    case 'zero-range-keep-size':
      return flag('FALLOC_FL_ZERO_RANGE') | flag('FALLOC_FL_KEEP_SIZE');
    default:
      throw invalid('mode', "'allocate', 'punch-hole', 'zero-range' (or a -keep-size form)", mode);
  }
}

export async function fallocate(
  fd: number,
  mode: FallocateMode,
  offsetBytes: number,
  lengthBytes: number,
  context: CallContext = {},
): Promise<void> {
  checkFd(fd);
  checkRange(offsetBytes, lengthBytes);
  const flags = fallocateFlags(mode);
  await call(() => loaded().fallocate(fd, flags, offsetBytes, lengthBytes), {
    path: context.path,
    fd,
    mode,
    offsetBytes,
    lengthBytes,
  });
}

async function seek(
  fd: number,
  offsetBytes: number,
  whence: 'SEEK_DATA' | 'SEEK_HOLE',
  context: CallContext,
): Promise<number> {
  checkFd(fd);
  checkBytes('offsetBytes', offsetBytes, 0);
  const native = loaded();
  const found = await call(() => native.seek(fd, offsetBytes, native.constants[whence] ?? -1), {
    path: context.path,
    fd,
    whence,
    offsetBytes,
  });
  return found;
}

/** The first offset ≥ `offsetBytes` that holds data, or -1 when only holes follow (ENXIO). */
export function seekData(fd: number, offsetBytes: number, context: CallContext = {}) {
  return seek(fd, offsetBytes, 'SEEK_DATA', context);
}

/** The first offset ≥ `offsetBytes` in a hole (the file's end counts as one), or -1 past the end. */
export function seekHole(fd: number, offsetBytes: number, context: CallContext = {}) {
  return seek(fd, offsetBytes, 'SEEK_HOLE', context);
}

/** BLKGETSIZE64: a block device's size. ENOTTY on anything that is not a block device. */
export async function blockDeviceSizeBytes(fd: number, context: CallContext = {}) {
  checkFd(fd);
  const sizeBytes = await call(() => loaded().blkGetSize64(fd), {
    path: context.path,
    fd,
  });
  if (!Number.isSafeInteger(sizeBytes)) throw invalid('device size', 'below 2^53', sizeBytes);
  return sizeBytes;
}

/** BLKSSZGET and BLKPBSZGET. */
export async function blockDeviceSectorSizes(
  fd: number,
  context: CallContext = {},
): Promise<BlockDeviceSectorSizes> {
  checkFd(fd);
  return call(() => loaded().blkSectorSizes(fd), { path: context.path, fd });
}

async function deviceRangeCall(
  method: 'blkDiscard' | 'blkZeroOut',
  fd: number,
  offsetBytes: number,
  lengthBytes: number,
  context: CallContext,
): Promise<void> {
  checkFd(fd);
  checkRange(offsetBytes, lengthBytes);
  const native = loaded();
  await call(() => native[method](fd, offsetBytes, lengthBytes), {
    path: context.path,
    fd,
    offsetBytes,
    lengthBytes,
  });
}

/** BLKDISCARD: the device may unmap the range; what it reads back as is the device's choice. */
export function discardRange(
  fd: number,
  offsetBytes: number,
  lengthBytes: number,
  context: CallContext = {},
): Promise<void> {
  return deviceRangeCall('blkDiscard', fd, offsetBytes, lengthBytes, context);
}

/** BLKZEROOUT: the range reads as zeros afterwards (WRITE ZEROES where the device has it). */
export function zeroOutRange(
  fd: number,
  offsetBytes: number,
  lengthBytes: number,
  context: CallContext = {},
): Promise<void> {
  return deviceRangeCall('blkZeroOut', fd, offsetBytes, lengthBytes, context);
}

function hashArguments(buffer: Buffer, blockSizeBytes: number): Buffer {
  if (!Buffer.isBuffer(buffer)) throw invalid('buffer', 'a Buffer', buffer);
  checkBytes('blockSizeBytes', blockSizeBytes, 1);
  return Buffer.allocUnsafe(Math.ceil(buffer.length / blockSizeBytes) * XXH3_128_DIGEST_BYTES);
}

/**
 * XXH3-128 of each `blockSizeBytes` block of `buffer` (the last one may be short), 16 bytes
 * each, in order. Small buffers are hashed on the calling thread, large ones on the pool.
 */
export async function hashBlocks(buffer: Buffer, blockSizeBytes: number): Promise<Buffer> {
  const native = loaded();
  const digests = hashArguments(buffer, blockSizeBytes);
  if (buffer.length < HASH_ON_THREAD_POOL_FROM_BYTES)
    native.hashBlocksSync(buffer, blockSizeBytes, digests);
  else await native.hashBlocksAsync(buffer, blockSizeBytes, digests);
  return digests;
}

/** The synchronous form of `hashBlocks`, for callers that hash small buffers in a loop. */
export function hashBlocksSync(buffer: Buffer, blockSizeBytes: number): Buffer {
  const native = loaded();
  const digests = hashArguments(buffer, blockSizeBytes);
  native.hashBlocksSync(buffer, blockSizeBytes, digests);
  return digests;
}
