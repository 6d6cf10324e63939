import assert from 'node:assert/strict';
import { copyFile, open, readdir, rm, truncate, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as fileio from '../../native/fileio/index.js';
import { SourceError } from '../../producers/errors.js';
import { createImageSource, type ImageSourceOptions } from '../../producers/image/image-source.js';
import type { ChangeSet, ChangeSource, CommittedReference } from '../../producers/source.js';
import { drainChangeSet, type SeenExtent } from '../support/drain-change-set.js';
import { patternBytes, sha256OfFile, writeAt } from '../support/image-files.js';
import { attachLoopDevice, type LoopDevice } from '../support/loop-device.js';
import { silentLogger } from '../support/silent-logger.js';
import { makeTempDir } from '../support/temp-dir.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const BLOCK = 4 * KiB;
const WINDOW = 4 * MiB;
// Not a multiple of the block size: the disk's last block is short.
const DISK_BYTES = 40 * MiB + 1000;

let tmp: { dir: string; remove: () => Promise<void> };
before(async () => {
  tmp = await makeTempDir('image-source');
});
after(async () => {
  await tmp.remove();
});

let caseNumber = 0;
/** A fresh image, state dir and replica per case. */
async function setUp(overrides: Partial<ImageSourceOptions> = {}) {
  const name = `case-${++caseNumber}`;
  const imagePath = path.join(tmp.dir, `${name}.img`);
  const replicaPath = path.join(tmp.dir, `${name}.replica`);
  const stateDir = path.join(tmp.dir, `${name}-state`);
  await writeFile(imagePath, '');
  await truncate(imagePath, DISK_BYTES);
  // A stale replica: garbage everywhere, so only what the cycles write can make it match.
  await writeFile(replicaPath, patternBytes(DISK_BYTES, 99));
  const options: ImageSourceOptions = {
    disks: [{ diskId: 'vm-1/disk:0', path: imagePath }],
    stateDir,
    windowBytes: WINDOW,
    logger: silentLogger,
    ...overrides,
  };
  return { imagePath, replicaPath, stateDir, options, source: createImageSource(options) };
}

async function openCycle(source: ChangeSource, since: CommittedReference | null) {
  const [disk] = await source.disks();
  assert.ok(disk);
  return source.open(disk, since);
}

/** Runs a cycle to its end, commits it and returns what it yielded and its reference. */
async function runCycle(
  source: ChangeSource,
  since: CommittedReference | null,
  replicaPath?: string,
): Promise<{ cycle: ChangeSet; extents: SeenExtent[]; committed: CommittedReference }> {
  const cycle = await openCycle(source, since);
  const extents = await drainChangeSet(cycle, replicaPath);
  await cycle.commit();
  return {
    cycle,
    extents,
    committed: { epoch: (since?.epoch ?? 0) + 1, reference: cycle.reference },
  };
}

function assertCoversDisk(extents: readonly SeenExtent[], sizeBytes: number) {
  let cursor = 0;
  for (const extent of extents) {
    assert.equal(extent.offsetBytes, cursor, `extents are contiguous at ${cursor}`);
    cursor += extent.lengthBytes;
  }
  assert.equal(cursor, sizeBytes);
}

async function writeSampleData(imagePath: string) {
  await writeAt(imagePath, 0, patternBytes(8 * KiB, 1));
  await writeAt(imagePath, 5 * MiB + 100, patternBytes(3000, 2)); // unaligned, inside one block
  await writeAt(imagePath, 20 * MiB, patternBytes(10 * MiB, 3)); // spans windows
  await writeAt(imagePath, DISK_BYTES - 500, patternBytes(500, 4)); // the short last block
}

describe('image source, FULL cycle', () => {
  test('a sparse image yields WRITE for data and ZERO for holes, covering the whole disk', async () => {
    const { imagePath, replicaPath, source } = await setUp();
    await writeSampleData(imagePath);
    const cycle = await openCycle(source, null);
    assert.equal(cycle.mode, 'FULL');
    assert.equal(cycle.baseReference, null);
    assert.equal(cycle.rebaselineReason, undefined);
    assert.match(cycle.reference, /^hashmap:[0-9a-f]{24}$/);
    const extents = await drainChangeSet(cycle, replicaPath);
    await cycle.commit();

    assertCoversDisk(extents, DISK_BYTES);
    const writes = extents.filter((extent) => extent.op === 'WRITE');
    assert.deepEqual(
      writes.map(({ offsetBytes, lengthBytes }) => [offsetBytes, lengthBytes]),
      [
        [0, 8 * KiB],
        [5 * MiB, BLOCK],
        // 20–30 MiB, split at the 4 MiB windows
        [20 * MiB, 4 * MiB],
        [24 * MiB, 4 * MiB],
        [28 * MiB, 2 * MiB],
        [DISK_BYTES - 1000, 1000],
      ],
    );
    // Holes coalesce across windows: 30 MiB → the last block is one ZERO extent.
    assert.ok(
      extents.some(
        (extent) =>
          extent.op === 'ZERO' &&
          extent.offsetBytes === 30 * MiB &&
          extent.lengthBytes === DISK_BYTES - 1000 - 30 * MiB,
      ),
    );
    for (const extent of extents)
      if (extent.offsetBytes + extent.lengthBytes !== DISK_BYTES)
        assert.equal(extent.lengthBytes % BLOCK, 0, 'aligned to blocks except at the end');
    assert.equal(await sha256OfFile(replicaPath), await sha256OfFile(imagePath));
    await source.close();
  });

  test('without hole detection the whole disk is read as data and hashes the same', async () => {
    const { imagePath, replicaPath, source, options } = await setUp({ detectHoles: false });
    await writeSampleData(imagePath);
    const { extents, committed } = await runCycle(source, null, replicaPath);
    assert.ok(extents.every((extent) => extent.op === 'WRITE'));
    assertCoversDisk(extents, DISK_BYTES);
    assert.equal(await sha256OfFile(replicaPath), await sha256OfFile(imagePath));
    // A hole-detecting source reading the same state finds nothing changed: zero blocks and
    // holes have the same digest.
    const detecting = createImageSource({ ...options, detectHoles: true });
    const next = await runCycle(detecting, committed);
    assert.equal(next.cycle.mode, 'INCREMENTAL');
    assert.deepEqual(next.extents, []);
  });
});

describe('image source, INCREMENTAL cycle', () => {
  test('yields exactly the changed blocks, coalesced, and nothing when nothing changed', async () => {
    const { imagePath, replicaPath, source } = await setUp();
    await writeSampleData(imagePath);
    const first = await runCycle(source, null, replicaPath);

    await writeAt(imagePath, 3 * BLOCK, patternBytes(BLOCK, 10)); // block 3
    await writeAt(imagePath, 100 * BLOCK + 10, patternBytes(3 * BLOCK - 20, 11)); // blocks 100–102
    await writeAt(imagePath, 12 * MiB, patternBytes(2 * BLOCK, 12)); // into a hole
    await writeAt(imagePath, DISK_BYTES - 1, Buffer.from([0xee])); // the short last block
    const handle = await open(imagePath, 'r+');
    await fileio.fallocate(handle.fd, 'punch-hole', 22 * MiB, 16 * KiB); // data → hole
    await handle.close();
    await writeAt(imagePath, 0, patternBytes(8 * KiB, 1)); // rewritten with the same bytes

    const second = await runCycle(source, first.committed, replicaPath);
    assert.equal(second.cycle.mode, 'INCREMENTAL');
    assert.equal(second.cycle.baseReference, first.committed.reference);
    assert.deepEqual(second.extents, [
      { offsetBytes: 3 * BLOCK, lengthBytes: BLOCK, op: 'WRITE' },
      { offsetBytes: 100 * BLOCK, lengthBytes: 3 * BLOCK, op: 'WRITE' },
      { offsetBytes: 12 * MiB, lengthBytes: 2 * BLOCK, op: 'WRITE' },
      { offsetBytes: 22 * MiB, lengthBytes: 16 * KiB, op: 'ZERO' },
      { offsetBytes: DISK_BYTES - 1000, lengthBytes: 1000, op: 'WRITE' },
    ]);
    assert.equal(await sha256OfFile(replicaPath), await sha256OfFile(imagePath));

    const third = await runCycle(source, second.committed, replicaPath);
    assert.equal(third.cycle.mode, 'INCREMENTAL');
    assert.deepEqual(third.extents, []);
  });

  test('the SHA-256 fallback works without the addon and never compares with XXH3 digests', async () => {
    const { imagePath, replicaPath, options } = await setUp();
    await writeSampleData(imagePath);
    const fallback = createImageSource({
      ...options,
      hashAlgorithm: 'sha256-128',
      detectHoles: false,
    });
    const first = await runCycle(fallback, null, replicaPath);
    await writeAt(imagePath, 7 * BLOCK, patternBytes(BLOCK, 20));
    const second = await runCycle(fallback, first.committed, replicaPath);
    assert.deepEqual(second.extents, [{ offsetBytes: 7 * BLOCK, lengthBytes: BLOCK, op: 'WRITE' }]);
    assert.equal(await sha256OfFile(replicaPath), await sha256OfFile(imagePath));

    const xxh3 = createImageSource(options);
    const switched = await openCycle(xxh3, second.committed);
    assert.equal(switched.mode, 'FULL');
    assert.match(
      switched.rebaselineReason ?? '',
      /holds sha256-128 digests, this source computes xxh3-128/,
    );
    await switched.abort('test');
  });
});

describe('image source, re-baseline', () => {
  test('each reason an incremental is impossible is named', async () => {
    const { imagePath, stateDir, options, source } = await setUp();
    await writeSampleData(imagePath);
    const { committed } = await runCycle(source, null);
    const reasonFor = async (changeSource: ChangeSource, since: CommittedReference) => {
      const cycle = await openCycle(changeSource, since);
      assert.equal(cycle.mode, 'FULL');
      await cycle.abort('test');
      return cycle.rebaselineReason ?? '';
    };

    assert.match(
      await reasonFor(source, { epoch: 1, reference: 'hashmap:other' }),
      /written by cycle hashmap:[0-9a-f]+, but the last committed cycle is hashmap:other \(epoch 1\)/,
    );
    assert.match(
      await reasonFor(createImageSource({ ...options, blockSizeBytes: 8192 }), committed),
      /has 4096-byte blocks, this source uses 8192-byte blocks/,
    );
    await truncate(imagePath, DISK_BYTES + BLOCK);
    assert.match(
      await reasonFor(source, committed),
      new RegExp(`disk size changed from ${DISK_BYTES} to ${DISK_BYTES + BLOCK} bytes`),
    );
    for (const file of await readdir(stateDir)) await rm(path.join(stateDir, file));
    assert.match(
      await reasonFor(source, committed),
      /no hash file .* the state directory is new or was reset/,
    );
    // Aborted cycles leave no `.next` behind.
    assert.deepEqual(await readdir(stateDir), []);
  });

  test('a crash between SyncCommit and the rename promotes the committed .next', async () => {
    const { imagePath, stateDir, options, source } = await setUp();
    await writeSampleData(imagePath);
    const first = await runCycle(source, null);
    await writeAt(imagePath, 9 * BLOCK, patternBytes(BLOCK, 30));
    const crashed = await openCycle(source, first.committed);
    await drainChangeSet(crashed);
    // The SyncCommit of `crashed` is in the log, then the process dies before commit().
    const [nextFile] = (await readdir(stateDir)).filter((file) => file.endsWith('.next'));
    assert.ok(nextFile);
    const saved = path.join(tmp.dir, 'saved.next');
    await copyFile(path.join(stateDir, nextFile), saved);
    await crashed.abort('simulated crash');
    await copyFile(saved, path.join(stateDir, nextFile));

    const restarted = createImageSource(options);
    const since = { epoch: 2, reference: crashed.reference };
    const resumed = await openCycle(restarted, since);
    assert.equal(resumed.mode, 'INCREMENTAL');
    assert.equal(resumed.baseReference, crashed.reference);
    assert.deepEqual(await drainChangeSet(resumed), []);
    await resumed.abort('test');

    // A `.next` the log never committed is discarded, not promoted.
    await copyFile(saved, path.join(stateDir, nextFile));
    const stale = await openCycle(restarted, since);
    assert.equal(stale.mode, 'INCREMENTAL', 'the promoted file is current now');
    await stale.abort('test');
    await copyFile(saved, path.join(stateDir, nextFile));
    const older = await openCycle(restarted, first.committed);
    assert.equal(older.mode, 'FULL');
    assert.match(older.rebaselineReason ?? '', /written by cycle/);
    await older.abort('test');
  });
});

describe('image source, a disk that changes under a cycle', () => {
  /** Reads the first window, then shrinks the file to `toBytes`. */
  async function firstThenShrink(overrides: Partial<ImageSourceOptions>, toBytes: number) {
    const { imagePath, source } = await setUp(overrides);
    await writeAt(imagePath, 0, patternBytes(DISK_BYTES, 5));
    const cycle = await openCycle(source, null);
    const iterator = cycle.changes()[Symbol.asyncIterator]();
    assert.equal((await iterator.next()).done, false);
    await truncate(imagePath, toBytes);
    const error = await (async () => {
      for (;;) if ((await iterator.next()).done) return null;
    })().catch((caught: unknown) => caught);
    await cycle.abort(error);
    return { error, imagePath };
  }

  test('a file truncated mid-read fails with a truncation error naming disk, path and offset', async () => {
    // The next window, [4 MiB, 8 MiB), ends early.
    const { error, imagePath } = await firstThenShrink({ detectHoles: false }, 6 * MiB + 123);
    assert.ok(error instanceof SourceError, String(error));
    assert.equal(error.code, 'EXTENTLOG_ERR_SOURCE_TRUNCATED');
    assert.match(error.message, /disk vm-1\/disk:0/);
    assert.ok(error.message.includes(imagePath));
    assert.match(error.message, new RegExp(`ended at offset ${6 * MiB + 123}`));
    assert.equal(error.details.offsetBytes, 6 * MiB + 123);
  });

  test('a size change between windows is reported as such', async () => {
    // The next window reads whole; the size check after it notices.
    const { error } = await firstThenShrink({}, 10 * MiB + 123);
    assert.ok(error instanceof SourceError, String(error));
    assert.equal(error.code, 'EXTENTLOG_ERR_SOURCE_SIZE_CHANGED');
    assert.match(
      error.message,
      new RegExp(`it was ${DISK_BYTES} bytes .* it is ${10 * MiB + 123} bytes now`),
    );
  });

  test('misuse is refused with clear errors', async () => {
    const { source } = await setUp();
    const cycle = await openCycle(source, null);
    await assert.rejects(cycle.commit(), { code: 'EXTENTLOG_ERR_SOURCE_CYCLE' });
    await assert.rejects(cycle.reader.read(DISK_BYTES - 10, 20), {
      code: 'EXTENTLOG_ERR_SOURCE_OUT_OF_RANGE',
    });
    await cycle.abort('test');
    await assert.rejects(
      source.open({ diskId: 'nope', sizeBytes: 1, blockSizeBytes: BLOCK }, null),
      {
        code: 'EXTENTLOG_ERR_SOURCE_UNKNOWN_DISK',
      },
    );
    assert.throws(() => createImageSource({ ...cycleOptions(), blockSizeBytes: 3000 }), {
      code: 'EXTENTLOG_ERR_SOURCE_CONFIG',
    });
  });
});

function cycleOptions(): ImageSourceOptions {
  return {
    disks: [{ diskId: 'd', path: '/nonexistent' }],
    stateDir: tmp.dir,
    logger: silentLogger,
  };
}

describe('image source on a block device', () => {
  let loop: LoopDevice | null = null;
  after(async () => {
    await loop?.detach();
  });

  test('a loop device replicates FULL then INCREMENTAL', async () => {
    const imagePath = path.join(tmp.dir, 'loop-backing.img');
    await writeFile(imagePath, patternBytes(16 * MiB, 40));
    loop = await attachLoopDevice(imagePath);
    const replicaPath = path.join(tmp.dir, 'loop.replica');
    await writeFile(replicaPath, '');
    const source = createImageSource({
      disks: [{ diskId: 'lv0', path: loop.device }],
      stateDir: path.join(tmp.dir, 'loop-state'),
      windowBytes: WINDOW,
      logger: silentLogger,
    });
    const [disk] = await source.disks();
    assert.equal(disk?.sizeBytes, 16 * MiB);
    const first = await runCycle(source, null, replicaPath);
    assert.ok(first.extents.every((extent) => extent.op === 'WRITE'));
    const device = await open(loop.device, 'r+');
    await device.write(patternBytes(BLOCK, 41), 0, BLOCK, 6 * BLOCK);
    await device.sync();
    await device.close();
    const second = await runCycle(source, first.committed, replicaPath);
    assert.deepEqual(second.extents, [{ offsetBytes: 6 * BLOCK, lengthBytes: BLOCK, op: 'WRITE' }]);
    assert.equal(await sha256OfFile(replicaPath), await sha256OfFile(loop.device));
  });
});
