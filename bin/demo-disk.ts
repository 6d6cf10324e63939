/**
 * The demo's sample disk: a sparse raw image with data regions, runs of written zeros and
 * holes, and the rounds of changes made to it between cycles. Region positions scale with
 * the disk's size; every region is 4 KiB-aligned except the deliberately unaligned write.
 *
 *   0        S/64      S/8      S/8+S/16   S/4   S/4+S/32  3S/8   3S/8+S/16  S/2 … 3S/4   S-S/64   S
 *   |██ data |  hole   |██ data ██|  hole  |░zeros░| hole  |██ d ░z░ ██| hole  |▪ ▪ ▪ ▪| hole |██ data|
 *
 * (░ zeros written as bytes, so allocated; ▪ sixteen scattered 16 KiB data blocks.)
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { open, type FileHandle } from 'node:fs/promises';
import { promisify } from 'node:util';
import { writeFully } from '../log/broker/storage/positional-io.js';
import * as fileio from '../native/fileio/index.js';

const KiB = 1024;
const BLOCK_BYTES = 4 * KiB;
const run = promisify(execFile);

/** Rounds `bytes` down to whole 4 KiB blocks. */
const blocks = (bytes: number) => Math.floor(bytes / BLOCK_BYTES) * BLOCK_BYTES;

/** A small deterministic generator (mulberry32): the same round makes the same changes. */
function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Writes `lengthBytes` of random data (or zeros) at `offsetBytes`, 4 MiB at a time. */
async function fill(handle: FileHandle, offsetBytes: number, lengthBytes: number, zeros = false) {
  const pieceBytes = 4 * 1024 * KiB;
  for (let doneBytes = 0; doneBytes < lengthBytes; doneBytes += pieceBytes) {
    const size = Math.min(pieceBytes, lengthBytes - doneBytes);
    await writeFully(
      handle,
      zeros ? Buffer.alloc(size) : randomBytes(size),
      offsetBytes + doneBytes,
    );
  }
}

export const MIN_SAMPLE_DISK_BYTES = 4 * 1024 * KiB;

/** Creates (or replaces) the sample disk of `sizeBytes` (a multiple of 4 KiB, at least 4 MiB). */
export async function createSampleDisk(path: string, sizeBytes: number): Promise<void> {
  const s = sizeBytes;
  const handle = await open(path, 'w', 0o644);
  try {
    await handle.truncate(s);
    await fill(handle, 0, blocks(s / 64));
    await fill(handle, blocks(s / 8), blocks(s / 16));
    await fill(handle, blocks(s / 4), blocks(s / 32), true);
    await fill(handle, blocks((3 * s) / 8), blocks(s / 16));
    await fill(handle, blocks((3 * s) / 8 + s / 64), blocks(s / 128), true);
    for (let index = 0; index < 16; index++)
      await fill(handle, blocks(s / 2 + (index * s) / 64), 16 * KiB);
    await fill(handle, s - blocks(s / 64), blocks(s / 64));
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Punches a hole with fallocate(2): through the fileio addon, or util-linux's `fallocate`
 * when the addon is not built. Returns how it was done.
 */
async function punchHole(
  handle: FileHandle,
  path: string,
  offsetBytes: number,
  lengthBytes: number,
) {
  if (fileio.isAvailable()) {
    await fileio.fallocate(handle.fd, 'punch-hole', offsetBytes, lengthBytes, { path });
    return 'punched a hole';
  }
  try {
    await run('fallocate', [
      '--punch-hole',
      '--offset',
      String(offsetBytes),
      '--length',
      String(lengthBytes),
      path,
    ]);
    return "punched a hole (util-linux's fallocate)";
  } catch {
    await fill(handle, offsetBytes, lengthBytes, true);
    return 'zeroed (no way to punch a hole here)';
  }
}

/** One round of changes; returns a line describing each. */
export async function mutateSampleDisk(
  path: string,
  sizeBytes: number,
  round: number,
): Promise<string[]> {
  const s = sizeBytes;
  const random = seeded(round);
  const handle = await open(path, 'r+');
  try {
    const blockCount = s / BLOCK_BYTES;
    for (let index = 0; index < 64; index++)
      await writeFully(
        handle,
        randomBytes(BLOCK_BYTES),
        Math.floor(random() * blockCount) * BLOCK_BYTES,
      );
    const zeroBytes = blocks(s / 256);
    const zeroAt = blocks(s / 8) + blocks(((round * s) / 64) % (s / 16 - zeroBytes));
    await fill(handle, zeroAt, zeroBytes, true);
    const holeBytes = blocks(s / 128);
    const holeAt = blocks((3 * s) / 8) + blocks((((round - 1) * s) / 128) % (s / 16 - holeBytes));
    const punched = await punchHole(handle, path, holeAt, holeBytes);
    const unalignedBytes = 777 + round * 13;
    const unalignedAt = Math.floor(s / 2) + 12_345 + round * 4099;
    await writeFully(handle, randomBytes(unalignedBytes), unalignedAt);
    await handle.sync();
    return [
      '64 random 4 KiB blocks written',
      `${zeroBytes / KiB} KiB of data overwritten with zeros at ${zeroAt}`,
      `${punched}: ${holeBytes / KiB} KiB at ${holeAt}`,
      `${unalignedBytes} bytes written at ${unalignedAt} (unaligned)`,
    ];
  } finally {
    await handle.close();
  }
}
