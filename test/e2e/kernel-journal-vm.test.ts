/**
 * The kernel journal end to end: in a Debian guest under qemu (kmod/vm/e2e.sh), Node.js
 * runs the kernel-journal source over the real extentlog module and kjournal addon and
 * publishes to this process's broker; a write storm with no producer running overflows the
 * ring, and the next feed re-baselines. On the host, the topic is replayed into a file
 * target, whose image must equal the guest's disk after it powered off (sha256).
 */
import assert from 'node:assert/strict';
import { cp, readFile, truncate, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { parseConfig } from '../../bin/config/load-config.js';
import { startRuntime } from '../../bin/runtime.js';
import type { ExtentlogRecord } from '../../schemas/extentlog-record.js';
import { createRecordCodec } from '../../schemas/record-codec.js';
import { sha256OfFile } from '../support/image-files.js';
import { initialImage } from '../support/journal-workload.js';
import { buildVmImage, checkoutDir, keepConsoleOnFailure } from '../support/kernel-vm.js';
import { runNodeGuest } from '../support/node-guest-vm.js';
import { silentLogger } from '../support/silent-logger.js';
import { eventually, startTestBroker } from '../support/test-broker.js';
import { startTestRegistry } from '../support/test-registry.js';
import { tempDir } from '../support/temp-dir.js';

const MiB = 1024 * 1024;
const DISK_BYTES = 32 * MiB;
const FEED = 'kj';
const PREFIX = 'kjtest';
const TOPIC = `${PREFIX}.${FEED}.extents`;

test('writes in a guest travel kernel journal → broker → file target; the target equals the disk, across an overflow', async (t) => {
  const image = await buildVmImage();
  const broker = await startTestBroker((fn) => t.after(fn));
  const registry = await startTestRegistry((fn) => t.after(fn));
  const dir = await tempDir(t, 'kjournal-e2e');
  const vda = path.join(dir.path, 'vda.img');
  const vdb = path.join(dir.path, 'vdb.img');
  await writeFile(vda, initialImage(DISK_BYTES));
  await writeFile(vdb, '');
  await truncate(vdb, 48 * MiB);
  const resultsDir = path.join(dir.path, 'results');
  const { vm, result: guestResult } = await runNodeGuest({
    image,
    name: 'kernel-journal-e2e',
    scenario: 'e2e',
    env: { RING_RECORDS: '1024' },
    disks: [vda, vdb],
    resultsDir,
    broker,
    registry,
    topic: TOPIC,
    consistencyIntervalMs: 500,
    phases: [
      // The first epoch is FULL: this workload starts once it is committed.
      {
        name: 'steady',
        feed: 'after-first-point',
        writer: [
          'threads=2',
          'ops=150',
          'seed=3',
          'pace_us=10000',
          'zero_every=9',
          'discard_every=13',
          'flush_every=7',
          'dsync_every=5',
        ],
      },
      // No producer runs: the storm overflows the 1024-record ring.
      { name: 'storm', feed: 'none', writer: ['threads=2', 'ops=800', 'seed=4', 'max_bytes=8192'] },
      // The next feed re-baselines; this workload runs while it reads the disk.
      {
        name: 'after',
        feed: 'at-once',
        writer: ['threads=2', 'ops=60', 'seed=5', 'pace_us=10000', 'zero_every=7'],
      },
    ],
    timeoutMs: 420_000,
    cleanup: (fn) => t.after(fn),
  });

  await keepConsoleOnFailure(vm, async () => {
    assert.deepEqual(vm.kernelProblems, [], 'the guest kernel complained');
    const result = await guestResult();
    assert.equal(result.error, null, `the guest program failed: ${result.error}`);
    assert.equal(vm.scenarioExit, 0, vm.scenarioLog);
    const [steady, storm, after] = result.phases;
    const steadyCycle = steady?.status?.disks[0]?.lastCycle;
    assert.equal(steadyCycle?.mode, 'FULL', 'the first cycle starts with a FULL epoch');
    assert.ok(steadyCycle.committed !== null, 'and ends committed');
    assert.ok(steadyCycle.epochs.length >= 3, `epochs ${steadyCycle.epochs.join(', ')}`);
    assert.equal(steady?.status?.disks[0]?.lastError, null);
    assert.ok(Number(storm?.journal.lostTotal) > 0, 'the storm overflowed the ring');
    const afterCycle = after?.status?.disks[0]?.lastCycle;
    assert.equal(afterCycle?.mode, 'FULL', 'the next feed re-baselines');
    assert.match(afterCycle.rebaselineReason ?? '', /overflowed after the committed position/);
    assert.ok(afterCycle.committed !== null);
    const latencies = [...(steady?.publishLatenciesMs ?? []), ...(after?.publishLatenciesMs ?? [])];
    assert.ok(latencies.length > 0);
    t.diagnostic(
      `journal → durable in the log (ms, TCG guest): p50 ${quantile(latencies, 0.5)}, p99 ${quantile(latencies, 0.99)}, max ${Math.max(...latencies)}`,
    );
  });

  // What the log holds: per disk seq without gaps, journal provenance on CONTINUOUS extents.
  const codec = createRecordCodec({ registry: registry.client(), subject: `${TOPIC}-value` });
  const config = parseConfig(
    {
      dataDir: path.join(dir.path, 'data'),
      topicPrefix: PREFIX,
      kafka: { brokers: [broker.address], replicationFactor: 1 },
      schemaRegistry: { url: registry.url },
      feeds: [
        {
          name: FEED,
          source: {
            type: 'kernel-journal',
            disks: [{ id: 'vda', journal: '/dev/extentlog/j0', cowStore: '/dev/vdb' }],
          },
        },
      ],
      targets: [
        {
          type: 'file',
          name: 'mirror',
          feeds: [FEED],
          path: path.join(dir.path, 'mirror', '{feed}-{disk}.img'),
          flushIntervalMs: 100,
        },
      ],
    },
    'e2e config',
  );
  const runtime = await startRuntime(config, silentLogger, { feeds: false });
  dir.beforeRemoval(() => runtime.close());
  const records: ExtentlogRecord[] = [];
  for await (const message of runtime.log.readRange({ topic: TOPIC, partition: 0, fromOffset: 0 }))
    records.push(await codec.decode(message.value!));
  records.forEach((record, index) => assert.equal(record.seq, index, 'seq without gaps'));
  const begins = records.filter((record) => record.type === 'sync-begin');
  assert.deepEqual(
    begins
      .filter((record) => record.mode === 'FULL')
      .map((record) => Boolean(record.rebaselineReason)),
    [false, true],
    'two FULL epochs: the first, and the re-baseline that says why',
  );
  assert.ok(begins.filter((record) => record.mode === 'CONTINUOUS').length >= 3);
  const journaled = records.filter(
    (record) => record.type === 'extent' && record.provenance.journalSeq !== null,
  );
  assert.ok(journaled.length > 0);
  for (const record of journaled) {
    if (record.type !== 'extent') continue;
    assert.ok(record.issuedAtNs <= record.completedAtNs, 'issued before completed');
  }
  const lastCommit = records.filter((record) => record.type === 'sync-commit').at(-1);
  assert.ok(lastCommit !== undefined && lastCommit.type === 'sync-commit');

  const replay = runtime.replays.get('mirror')!;
  await eventually(
    `the restore point of epoch ${lastCommit.epoch}`,
    () => {
      const status = replay.status().disks.find((disk) => disk.diskId === 'vda');
      if (status?.lastError) throw new Error(status.lastError.message);
      return (status?.lastRestorePoint?.epoch ?? 0) >= lastCommit.epoch ? true : undefined;
    },
    120_000,
  );
  const target = await readFile(path.join(dir.path, 'mirror', `${FEED}-vda.img`));
  const disk = await readFile(vda);
  const differing: number[] = [];
  for (let at = 0; at < disk.length; at += 4096)
    if (disk.compare(target, at, at + 4096, at, at + 4096) !== 0) differing.push(at);
  const touching = (offset: number) =>
    records
      .filter(
        (record) =>
          record.type === 'extent' &&
          record.offsetBytes < offset + 4096 &&
          record.offsetBytes + record.lengthBytes > offset,
      )
      .map((record) =>
        record.type === 'extent'
          ? `epoch ${record.epoch} ${record.op} ${record.offsetBytes}+${record.lengthBytes}`
          : '',
      );
  if (differing.length > 0) {
    const kept = path.join(checkoutDir, '.tmp', 'vm-logs', `kernel-journal-e2e-${Date.now()}`);
    await cp(resultsDir, kept, { recursive: true });
    await writeFile(path.join(kept, 'vda.img'), disk);
    await writeFile(path.join(kept, 'target.img'), target);
    assert.deepEqual(
      differing.slice(0, 5).map((offset) => ({ offset, records: touching(offset) })),
      [],
      `${differing.length} blocks of the target differ from the guest disk (kept in ${kept})`,
    );
  }
  assert.equal(
    await sha256OfFile(path.join(dir.path, 'mirror', `${FEED}-vda.img`)),
    await sha256OfFile(vda),
    'the replayed target equals the guest disk',
  );
});

function quantile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return Math.round(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0);
}
