import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFile, mkdir, open, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { errnoOf, NativeError } from '../../native/errors.js';
import { readBlockDeviceQueue } from '../../native/fileio/block-device-queue.js';
import { hashBlocksSha256, writeZeros } from '../../native/fileio/fallbacks.js';
import * as fileio from '../../native/fileio/index.js';
import { patternBytes } from '../support/image-files.js';
import { attachLoopDevice, type LoopDevice } from '../support/loop-device.js';
import { makeTempDir } from '../support/temp-dir.js';

const run = promisify(execFile);
const KiB = 1024;
const MiB = 1024 * KiB;

let tmp: { dir: string; remove: () => Promise<void> };
const loops: LoopDevice[] = [];
before(async () => {
  tmp = await makeTempDir('native-fileio');
});
after(async () => {
  for (const loop of loops) await loop.detach();
  await tmp.remove();
});

async function dataFile(name: string, bytes: Buffer) {
  const filePath = path.join(tmp.dir, name);
  await writeFile(filePath, bytes);
  const handle = await open(filePath, 'r+');
  return { filePath, handle };
}

/** What `xxhsum -H2` prints for each file: XXH3-128 in canonical hex. */
async function xxhsum128(files: readonly string[]): Promise<string[]> {
  const { stdout } = await run('xxhsum', ['-H2', ...files]);
  return stdout
    .trim()
    .split('\n')
    .map((line) => line.split(/\s+/)[0] ?? '');
}

test('the addon is built', () => {
  assert.equal(fileio.isAvailable(), true);
});

test('without the addon, every call names the addon, the package and the build command', async () => {
  // The wrapper as built, copied where no addon sits beside it.
  const built = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
  const copy = path.join(tmp.dir, 'no-addon');
  for (const file of [
    'native/fileio/index.js',
    'native/addon-loader.js',
    'native/native-call.js',
    'native/errors.js',
    'errors/extentlog-error.js',
  ]) {
    await mkdir(path.dirname(path.join(copy, file)), { recursive: true });
    await copyFile(path.join(built, file), path.join(copy, file));
  }
  await writeFile(path.join(copy, 'package.json'), '{"type":"module"}');
  const wrapper = (await import(
    pathToFileURL(path.join(copy, 'native/fileio/index.js')).href
  )) as typeof fileio;
  assert.equal(wrapper.isAvailable(), false);
  await assert.rejects(wrapper.fallocate(0, 'punch-hole', 0, 1), (error: unknown) => {
    assert.equal((error as NativeError).code, 'EXTENTLOG_ERR_NATIVE_NOT_BUILT');
    assert.match(String(error), /native addon 'fileio' is not built/);
    assert.match(String(error), /libxxhash-dev/);
    assert.match(String(error), /npm run build:native/);
    return true;
  });
  assert.throws(() => wrapper.assertAvailable('hole punching'), /needed for hole punching/);
});

describe('fallocate and SEEK_DATA/SEEK_HOLE on a file', () => {
  test('a punched hole frees its blocks, reads as zeros and is found by SEEK_HOLE', async () => {
    const { filePath, handle } = await dataFile('punch.img', patternBytes(4 * MiB, 1));
    try {
      await handle.sync();
      const before = (await stat(filePath)).blocks;
      await fileio.fallocate(handle.fd, 'punch-hole', 1 * MiB, 1 * MiB, { path: filePath });
      const stats = await stat(filePath);
      assert.equal(stats.size, 4 * MiB, 'KEEP_SIZE');
      assert.equal((before - stats.blocks) * 512, 1 * MiB);
      assert.equal(await fileio.seekHole(handle.fd, 0), 1 * MiB);
      assert.equal(await fileio.seekData(handle.fd, 1 * MiB), 2 * MiB);
      assert.equal(await fileio.seekHole(handle.fd, 2 * MiB), 4 * MiB, 'the end counts as a hole');
      assert.equal(await fileio.seekData(handle.fd, 4 * MiB), -1, 'ENXIO at the end');
      const content = await readFile(filePath);
      assert.ok(content.subarray(1 * MiB, 2 * MiB).equals(Buffer.alloc(1 * MiB)));
    } finally {
      await handle.close();
    }
  });

  test('zero-range zeroes without freeing; allocate reserves blocks', async () => {
    const { filePath, handle } = await dataFile('zero-range.img', patternBytes(1 * MiB, 2));
    try {
      await handle.sync();
      const before = (await stat(filePath)).blocks;
      await fileio.fallocate(handle.fd, 'zero-range', 0, 64 * KiB);
      assert.equal((await stat(filePath)).blocks, before);
      assert.ok((await readFile(filePath)).subarray(0, 64 * KiB).equals(Buffer.alloc(64 * KiB)));
      await fileio.fallocate(handle.fd, 'allocate-keep-size', 1 * MiB, 1 * MiB);
      const kept = await stat(filePath);
      assert.equal(kept.size, 1 * MiB);
      assert.ok(kept.blocks * 512 >= 2 * MiB);
      await fileio.fallocate(handle.fd, 'allocate', 1 * MiB, 1 * MiB);
      assert.equal((await stat(filePath)).size, 2 * MiB);
    } finally {
      await handle.close();
    }
  });

  test('writeZeros (the fallback) zeroes any range in bounded chunks', async () => {
    const original = patternBytes(3 * MiB, 3);
    const { filePath, handle } = await dataFile('write-zeros.img', original);
    try {
      await writeZeros(handle.fd, 100, 2 * MiB + 5);
      const expected = Buffer.from(original).fill(0, 100, 2 * MiB + 105);
      assert.ok((await readFile(filePath)).equals(expected));
    } finally {
      await handle.close();
    }
  });
});

describe('errors', () => {
  test('errno is kept: EBADF, ENOTTY on a regular file, EINVAL, and ENXIO past the end', async () => {
    const { filePath, handle } = await dataFile('errors.img', Buffer.alloc(4096));
    try {
      const badFd = await fileio.seekData(987_654, 0).catch((error: unknown) => error);
      assert.ok(badFd instanceof NativeError);
      assert.equal(badFd.code, 'EXTENTLOG_ERR_NATIVE_SYSCALL');
      assert.equal(errnoOf(badFd), 'EBADF');
      assert.equal(badFd.details.syscall, 'lseek');
      assert.equal(badFd.details.fd, 987_654);

      const notTty = await fileio
        .blockDeviceSizeBytes(handle.fd, { path: filePath })
        .catch((error: unknown) => error);
      assert.equal(errnoOf(notTty), 'ENOTTY');
      assert.match(String((notTty as Error).message), /ioctl\(BLKGETSIZE64\) failed with ENOTTY/);
      assert.ok((notTty as Error).message.includes(filePath));
      await assert.rejects(fileio.discardRange(handle.fd, 0, 4096), (error: unknown) => {
        return errnoOf(error) === 'ENOTTY';
      });

      // Opened read-only: fallocate refuses with EBADF.
      const readOnly = await open(filePath, 'r');
      try {
        const refused = await fileio
          .fallocate(readOnly.fd, 'punch-hole', 0, 4096)
          .catch((error: unknown) => error);
        assert.equal(errnoOf(refused), 'EBADF');
        assert.equal((refused as NativeError).retriable, false);
      } finally {
        await readOnly.close();
      }
      assert.equal(await fileio.seekData(handle.fd, 1 * MiB), -1);
    } finally {
      await handle.close();
    }
  });

  test('arguments are validated before any call', async () => {
    const cases: [() => Promise<unknown>, RegExp][] = [
      [() => fileio.fallocate(-1, 'punch-hole', 0, 1), /fd must be a file descriptor/],
      [() => fileio.fallocate(3, 'punch-hole', -1, 1), /offsetBytes must be a safe integer ≥ 0/],
      [() => fileio.fallocate(3, 'punch-hole', 0, 0), /lengthBytes must be a safe integer ≥ 1/],
      [() => fileio.fallocate(3, 'punch-hole', 2 ** 53, 1), /offsetBytes must be/],
      [() => fileio.fallocate(3, 'nope' as 'punch-hole', 0, 1), /mode must be/],
      [() => fileio.seekHole(1.5, 0), /fd must be/],
      [() => fileio.zeroOutRange(3, 0, Number.NaN), /lengthBytes must be/],
      [() => fileio.hashBlocks(Buffer.alloc(1), 0), /blockSizeBytes must be a safe integer ≥ 1/],
    ];
    for (const [call, message] of cases)
      await assert.rejects(call(), (error: unknown) => {
        assert.ok(error instanceof NativeError);
        assert.equal(error.code, 'EXTENTLOG_ERR_NATIVE_INVALID_ARGUMENT');
        assert.match(error.message, message);
        return true;
      });
  });
});

describe('block device ioctls on a loop device', () => {
  test('BLKGETSIZE64, sector sizes, sysfs limits, BLKZEROOUT and BLKDISCARD', async () => {
    const backing = path.join(tmp.dir, 'loop.img');
    await writeFile(backing, patternBytes(8 * MiB, 4));
    const loop = await attachLoopDevice(backing);
    loops.push(loop);
    const device = await open(loop.device, 'r+');
    try {
      assert.equal(await fileio.blockDeviceSizeBytes(device.fd), 8 * MiB);
      assert.deepEqual(await fileio.blockDeviceSectorSizes(device.fd), {
        logicalBytes: 512,
        physicalBytes: 512,
      });
      const queue = await readBlockDeviceQueue((await device.stat()).rdev);
      assert.equal(queue.logicalBlockBytes, 512);
      assert.ok(queue.discardMaxBytes > 0, 'loop devices support discard');

      await fileio.zeroOutRange(device.fd, 1 * MiB, 512 * KiB, { path: loop.device });
      await fileio.discardRange(device.fd, 4 * MiB, 1 * MiB, { path: loop.device });
      const content = Buffer.alloc(8 * MiB);
      await device.read(content, 0, content.length, 0);
      assert.ok(content.subarray(1 * MiB, 1.5 * MiB).equals(Buffer.alloc(512 * KiB)));
      // A loop device passes the discard to its backing file as a punched hole.
      assert.ok(content.subarray(4 * MiB, 5 * MiB).equals(Buffer.alloc(1 * MiB)));
      assert.ok(content.subarray(0, 1 * MiB).equals(patternBytes(1 * MiB, 4)));

      const unaligned = await fileio
        .zeroOutRange(device.fd, 100, 512)
        .catch((error: unknown) => error);
      assert.equal(errnoOf(unaligned), 'EINVAL');
    } finally {
      await device.close();
    }
  });
});

describe('hashBlocks', () => {
  test('digests equal xxhsum -H2 of each block, including a short last block', async () => {
    const blockBytes = 4096;
    for (const totalBytes of [1, 4096, 3 * 4096 + 77, 2 * MiB + 5]) {
      const data = randomBytes(totalBytes);
      const files: string[] = [];
      for (let offset = 0; offset < totalBytes && files.length < 4; offset += blockBytes) {
        const file = path.join(tmp.dir, `block-${totalBytes}-${offset}`);
        await writeFile(file, data.subarray(offset, offset + blockBytes));
        files.push(file);
      }
      const lastOffset = Math.floor((totalBytes - 1) / blockBytes) * blockBytes;
      const lastFile = path.join(tmp.dir, `block-${totalBytes}-last`);
      await writeFile(lastFile, data.subarray(lastOffset));
      const expected = await xxhsum128([...files, lastFile]);

      const digests = await fileio.hashBlocks(data, blockBytes);
      assert.equal(digests.length, Math.ceil(totalBytes / blockBytes) * 16);
      const actual = files.map((_file, block) =>
        digests.toString('hex', block * 16, block * 16 + 16),
      );
      actual.push(digests.toString('hex', digests.length - 16));
      assert.deepEqual(actual, expected, `${totalBytes} bytes`);
      assert.ok(fileio.hashBlocksSync(data, blockBytes).equals(digests), 'sync and pool agree');
    }
  });

  test('the SHA-256 fallback digests differ from XXH3 and are SHA-256 prefixes', async () => {
    const data = patternBytes(8192, 5);
    const fallback = hashBlocksSha256(data, 4096);
    const { createHash } = await import('node:crypto');
    assert.equal(
      fallback.toString('hex', 0, 16),
      createHash('sha256').update(data.subarray(0, 4096)).digest('hex').slice(0, 32),
    );
    assert.ok(!fallback.equals(await fileio.hashBlocks(data, 4096)));
  });
});
