/**
 * AWS as a source and as a destination, end to end on the embedded broker, with the EBS
 * emulator behind the unmodified SDK: an EBS volume replicated into a file target equals the
 * volume at every restore point; an image replicated into the EBS target becomes a chain of
 * snapshots, each of which reads back (block by block, through the direct APIs) equal to the
 * image at its restore point.
 */
import assert from 'node:assert/strict';
import { open } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { parseConfig } from '../../bin/config/load-config.js';
import { sha256OfDisk } from '../../bin/image-sha256.js';
import { startRuntime } from '../../bin/runtime.js';
import { startEmulator, type EmulatorFixture } from '../support/aws-emulator.js';
import { patternBytes, sha256OfFile, sha256OfSparseFile, writeAt } from '../support/image-files.js';
import { silentLogger } from '../support/silent-logger.js';
import { waitForRestorePoint } from '../support/wait-for-restore-point.js';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

/** The AWS settings of a source or target that talks to the emulator. */
function awsSettings(fixture: EmulatorFixture) {
  return {
    region: fixture.aws.region,
    credentialsFile: fixture.credentialsFile,
    ebsEndpoint: fixture.aws.endpoint,
    ec2Endpoint: fixture.aws.endpoint,
    maxRequestsPerSecond: 2000,
    burst: 100,
    snapshotPollMs: 5,
    snapshotMaxPollMs: 50,
  };
}

/** A runtime replicating the image at `sourcePath` (disk-0 of feed vm1) into EBS target aws. */
async function startImageToEbs(fixture: EmulatorFixture, sourcePath: string) {
  const config = parseConfig(
    {
      dataDir: path.join(fixture.dir.path, 'data'),
      feeds: [
        {
          name: 'vm1',
          source: { type: 'image', disks: [{ id: 'disk-0', path: sourcePath }] },
          heartbeatIntervalMs: 200,
        },
      ],
      targets: [
        {
          type: 'ebs',
          name: 'aws',
          feeds: ['vm1'],
          ...awsSettings(fixture),
          putConcurrency: 8,
          flushIntervalMs: 100,
        },
      ],
    },
    'test config',
  );
  const runtime = await startRuntime(config, silentLogger);
  fixture.dir.beforeRemoval(() => runtime.close());
  return runtime;
}

async function resize(filePath: string, sizeBytes: number) {
  const handle = await open(filePath, 'a');
  await handle.truncate(sizeBytes).finally(() => handle.close());
}

test('an EBS volume replicates into a file target; every restore point equals the volume', async (t) => {
  const fixture = await startEmulator(t);
  const volume = await fixture.aws.addVolume({ sizeGiB: 1 });
  await writeAt(volume.path, 0, patternBytes(3 * MiB, 1));
  await writeAt(volume.path, 300 * MiB + 4096, patternBytes(5 * MiB + 123, 2));
  await writeAt(volume.path, GiB - MiB, patternBytes(MiB, 3));
  const config = parseConfig(
    {
      dataDir: path.join(fixture.dir.path, 'data'),
      feeds: [
        {
          name: 'ec2',
          source: {
            type: 'ebs',
            ...awsSettings(fixture),
            volumes: [{ id: volume.volumeId, diskId: 'root' }],
            maxResults: 100,
          },
          heartbeatIntervalMs: 200,
        },
      ],
      targets: [
        {
          type: 'file',
          name: 'mirror',
          feeds: ['ec2'],
          path: path.join(fixture.dir.path, 'mirror', '{feed}-{disk}.img'),
          flushIntervalMs: 100,
        },
      ],
    },
    'test config',
  );
  const runtime = await startRuntime(config, silentLogger);
  fixture.dir.beforeRemoval(() => runtime.close());
  const feed = runtime.feeds.get('ec2')!;
  const mirror = path.join(fixture.dir.path, 'mirror', 'ec2-root.img');
  const mutations: (() => Promise<void>)[] = [
    async () => undefined,
    async () => {
      await writeAt(volume.path, 4096 * 10, patternBytes(4096, 4)); // inside a listed block
      await writeAt(volume.path, 300 * MiB + 4096, Buffer.alloc(2 * MiB)); // zeros over data
      await writeAt(volume.path, 700 * MiB + 17, patternBytes(777, 5)); // unaligned, in a hole
    },
    async () => {
      await resize(volume.path, 200 * MiB); // a discard-like cut …
      await resize(volume.path, GiB); // … back to full size: the tail reads as zeros
      await writeAt(volume.path, 5 * MiB, patternBytes(3 * 4096, 6));
    },
  ];
  for (const [cycle, mutate] of mutations.entries()) {
    await mutate();
    const [result] = await feed.syncNow();
    assert.ok(result?.committed, `cycle ${cycle} committed`);
    assert.equal(result.mode, cycle === 0 ? 'FULL' : 'INCREMENTAL');
    const point = await waitForRestorePoint(runtime, 'mirror', 'root', result.committed.epoch);
    assert.match(point.sourceReference, /^ebs:snap-/);
    assert.equal(
      await sha256OfSparseFile(mirror),
      await sha256OfSparseFile(volume.path),
      `the mirror equals the volume after cycle ${cycle}`,
    );
  }
  const kept = fixture.aws.snapshots().filter((snapshot) => snapshot.volumeId === volume.volumeId);
  assert.equal(kept.length, 1, 'only the last cycle snapshot is kept as the next base');
});

test('an image replicates into the EBS target; each snapshot reads back equal to the image', async (t) => {
  const fixture = await startEmulator(t);
  const sourcePath = path.join(fixture.dir.path, 'source.img');
  await resize(sourcePath, 64 * MiB);
  await writeAt(sourcePath, 0, patternBytes(3 * MiB, 1));
  await writeAt(sourcePath, 20 * MiB + 4096, patternBytes(5 * MiB + 123, 2));
  await writeAt(sourcePath, 63 * MiB, patternBytes(MiB, 3));
  const runtime = await startImageToEbs(fixture, sourcePath);
  const feed = runtime.feeds.get('vm1')!;
  const ebsTarget = runtime.targets.get('aws')!;
  const mutations: (() => Promise<void>)[] = [
    async () => undefined,
    async () => {
      await writeAt(sourcePath, 4096 * 10, patternBytes(4096, 4)); // part of a 512 KiB block
      await writeAt(sourcePath, 20 * MiB + 4096, Buffer.alloc(2 * MiB)); // zeros over data
      await writeAt(sourcePath, 40 * MiB + 5, patternBytes(777, 5)); // unaligned, into a hole
    },
    async () => {
      await resize(sourcePath, 32 * MiB); // the upper half cut …
      await resize(sourcePath, 64 * MiB); // … reads as zeros
      await writeAt(sourcePath, 5 * MiB, patternBytes(3 * 4096, 6));
    },
  ];
  const snapshots: string[] = [];
  const expected: string[] = [];
  for (const [cycle, mutate] of mutations.entries()) {
    await mutate();
    const [result] = await feed.syncNow();
    assert.ok(result?.committed, `cycle ${cycle} committed`);
    const point = await waitForRestorePoint(runtime, 'aws', 'disk-0', result.committed.epoch);
    assert.match(point.location ?? '', /^snap-/);
    const snapshot = fixture.aws.snapshot(point.location!)!;
    assert.equal(
      snapshot.parentId,
      snapshots.at(-1) ?? null,
      'each snapshot is the child of the last',
    );
    assert.equal(snapshot.tags.get('extentlog:epoch'), String(result.committed.epoch));
    assert.equal(snapshot.tags.get('extentlog:feed'), 'vm1');
    snapshots.push(point.location!);
    expected.push(await sha256OfFile(sourcePath));

    // Every restore point so far still reads back as the image was then.
    for (const [index, snapshotId] of snapshots.entries()) {
      const reader = await ebsTarget.openRestorePoint!(
        { ...point, epoch: index + 1, location: snapshotId },
        point,
      );
      try {
        assert.equal(await sha256OfDisk(reader), expected[index], `snapshot of cycle ${index}`);
      } finally {
        await reader.close();
      }
    }
  }
});

test('a restore point snapshot deleted behind the EBS target makes the feed re-baseline', async (t) => {
  const fixture = await startEmulator(t);
  const sourcePath = path.join(fixture.dir.path, 'source.img');
  await resize(sourcePath, 16 * MiB);
  await writeAt(sourcePath, 0, patternBytes(3 * MiB, 1));
  const runtime = await startImageToEbs(fixture, sourcePath);
  const feed = runtime.feeds.get('vm1')!;
  const [first] = await feed.syncNow();
  const point = await waitForRestorePoint(runtime, 'aws', 'disk-0', first!.committed!.epoch);
  fixture.aws.deleteSnapshot(point.location!);

  await writeAt(sourcePath, 10 * MiB, patternBytes(MiB, 2));
  const [second] = await feed.syncNow();
  assert.equal(second?.mode, 'INCREMENTAL');
  // The target cannot apply the incremental without its base: it asks for a FULL epoch.
  const rebaselined = await waitForRestorePoint(
    runtime,
    'aws',
    'disk-0',
    second!.committed!.epoch + 1,
  );
  const snapshot = fixture.aws.snapshot(rebaselined.location!)!;
  assert.equal(snapshot.parentId, null, 'the re-baseline starts a new snapshot chain');
  const reader = await runtime.targets.get('aws')!.openRestorePoint!(rebaselined, rebaselined);
  try {
    assert.equal(await sha256OfDisk(reader), await sha256OfFile(sourcePath));
  } finally {
    await reader.close();
  }
});
