/**
 * The replication spine end to end, on the embedded broker: an image source, one feed and
 * two file targets. After every cycle both targets hold exactly the source's bytes (sha256
 * of the whole image) at the restore point. Once per log driver (kafkajs, librdkafka).
 */
import assert from 'node:assert/strict';
import { open } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { parseConfig } from '../../bin/config/load-config.js';
import { startRuntime } from '../../bin/runtime.js';
import { createSampleDisk, patternBytes, sha256OfFile, writeAt } from '../support/image-files.js';
import { silentLogger } from '../support/silent-logger.js';
import { tempDir } from '../support/temp-dir.js';
import { waitForRestorePoint } from '../support/wait-for-restore-point.js';

const MiB = 1024 * 1024;

for (const logDriver of ['kafkajs', 'librdkafka'] as const) {
  test(`a feed replays into two file targets over ${logDriver}; each restore point equals the source`, async (t) => {
    const dir = await tempDir(t, 'e2e-replication');
    const sourcePath = path.join(dir.path, 'source.img');
    await createSampleDisk(sourcePath);

    const config = parseConfig(
      {
        dataDir: path.join(dir.path, 'data'),
        logDriver,
        feeds: [
          {
            name: 'vm1',
            source: { type: 'image', disks: [{ id: 'disk-0', path: sourcePath }] },
            heartbeatIntervalMs: 200,
          },
        ],
        targets: [
          {
            type: 'file',
            name: 'mirror-a',
            feeds: ['vm1'],
            path: path.join(dir.path, 'a', '{feed}-{disk}.img'),
            flushIntervalMs: 100,
          },
          {
            type: 'file',
            name: 'mirror-b',
            feeds: ['vm1'],
            path: path.join(dir.path, 'b', '{feed}-{disk}.img'),
            flushIntervalMs: 100,
          },
        ],
      },
      'test config',
    );
    const runtime = await startRuntime(config, silentLogger);
    dir.beforeRemoval(() => runtime.close());
    const feed = runtime.feeds.get('vm1')!;
    const mutations: ((file: string) => Promise<void>)[] = [
      async () => undefined,
      async (file) => {
        await writeAt(file, 4096 * 10, patternBytes(4096, 4)); // one block
        await writeAt(file, 20 * MiB + 4096, Buffer.alloc(2 * MiB)); // zeroes over data
        await writeAt(file, 40 * MiB, patternBytes(777, 5)); // unaligned, into a hole
      },
      async (file) => {
        const handle = await open(file, 'r+');
        await handle.truncate(32 * MiB); // a discard-like cut …
        await handle.truncate(64 * MiB); // … back to full size: the tail reads as zeros
        await handle.close();
        await writeAt(file, 5 * MiB, patternBytes(3 * 4096, 6));
      },
    ];
    for (const [cycle, mutate] of mutations.entries()) {
      await mutate(sourcePath);
      const [result] = await feed.syncNow();
      assert.ok(result?.committed, `cycle ${cycle} committed`);
      assert.equal(result.mode, cycle === 0 ? 'FULL' : 'INCREMENTAL');
      const expected = await sha256OfFile(sourcePath);
      for (const target of ['mirror-a', 'mirror-b']) {
        const point = await waitForRestorePoint(runtime, target, 'disk-0', result.committed.epoch);
        assert.equal(point.digest.length, 64);
        const image = path.join(dir.path, target === 'mirror-a' ? 'a' : 'b', 'vm1-disk-0.img');
        assert.equal(
          await sha256OfFile(image),
          expected,
          `${target} equals the source after cycle ${cycle}`,
        );
      }
    }
  });
}
