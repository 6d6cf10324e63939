/**
 * The OCI source end to end, against the OCI emulator (signatures checked with the test's
 * key) and tgtd serving the restored volumes: a volume group of two disks is backed up,
 * restored (in full, then from two backups), attached with CHAP, scanned with GET LBA STATUS
 * — tgtd refuses the 32-byte CDB, so the scanner falls back to the 16-byte one — read and
 * replayed into file targets. The published extents of an incremental cycle are exactly the
 * changed ranges of the delta volume, every replayed image equals the backup it came from,
 * the restored volumes are detached and deleted, and a deleted base backup makes the next
 * cycle a FULL one.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { pino } from 'pino';
import { parseConfig } from '../../bin/config/load-config.js';
import { extentsTopic, startRuntime, type Runtime } from '../../bin/runtime.js';
import { createRecordCodec } from '../../schemas/record-codec.js';
import type { EmulatedBackup } from '../emulators/oci/block-volume-store.js';
import { startOciEmulator } from '../emulators/oci/oci-emulator.js';
import { Tgtd } from '../peers/tgtd.js';
import { eventually } from '../support/eventually.js';
import { patternBytes, sha256OfFile, writeAt } from '../support/image-files.js';
import { tempDir } from '../support/temp-dir.js';

const MiB = 1024 * 1024;
const TENANCY = 'ocid1.tenancy.oc1..extentlogtest';
const USER = 'ocid1.user.oc1..extentlogtest';
const GROUP = 'ocid1.volumegroup.oc1.emulated.group';

/** The union of the byte ranges of a disk's Extent records in one epoch, merged. */
async function publishedRanges(
  runtime: Runtime,
  disk: string,
  epoch: number,
): Promise<[number, number][]> {
  const topic = extentsTopic('extentlog', 'oci');
  const codec = createRecordCodec({ registry: runtime.registry, subject: `${topic}-value` });
  const ranges: [number, number][] = [];
  for (const { partition } of await runtime.log.admin.offsets(topic))
    for await (const message of runtime.log.readRange({ topic, partition, fromOffset: 0 })) {
      if (message.value === null) continue;
      const record = await codec.decode(message.value);
      if (record.type === 'extent' && record.disk === disk && record.epoch === epoch)
        ranges.push([record.offsetBytes, record.offsetBytes + record.lengthBytes]);
    }
  ranges.sort((a, b) => a[0] - b[0]);
  const merged: [number, number][] = [];
  for (const range of ranges) {
    const last = merged.at(-1);
    if (last !== undefined && last[1] === range[0]) last[1] = range[1];
    else merged.push([...range]);
  }
  return merged;
}

test('OCI backups → delta volume → GET LBA STATUS → feed → file target: extents and images match the backups', async (t) => {
  const dir = await tempDir(t, 'e2e-oci');
  const tgtd = await Tgtd.start(dir.path);
  dir.beforeRemoval(() => tgtd.stop());
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const keyFile = path.join(dir.path, 'oci_api_key.pem');
  await writeFile(keyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  const emulator = await startOciEmulator({
    tgtd,
    dataDir: dir.path,
    tenancyId: TENANCY,
    userId: USER,
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  });
  dir.beforeRemoval(() => emulator.close());
  const store = emulator.store;
  const volumeA = await store.addVolume(GROUP, 64 * MiB);
  const volumeB = await store.addVolume(GROUP, 32 * MiB);
  await writeAt(volumeA.path, 0, patternBytes(6 * MiB, 1));
  await writeAt(volumeA.path, 40 * MiB + 4096, patternBytes(3 * MiB, 2));
  await writeAt(volumeB.path, 5 * MiB, patternBytes(MiB, 3));

  const lines: string[] = [];
  const logger = pino(
    { level: 'info' },
    new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(chunk.toString());
        done();
      },
    }),
  );
  const config = parseConfig(
    {
      dataDir: path.join(dir.path, 'data'),
      feeds: [
        {
          name: 'oci',
          source: {
            type: 'oci',
            endpoint: emulator.endpoint,
            tenancyId: TENANCY,
            userId: USER,
            privateKeyFile: keyFile,
            compartmentId: 'ocid1.compartment.oc1..emulated',
            availabilityDomain: 'emulated:AD-1',
            instanceId: 'ocid1.instance.oc1.emulated.replicator',
            volumeGroupId: GROUP,
            disks: [
              { id: 'a', volumeId: volumeA.id },
              { id: 'b', volumeId: volumeB.id },
            ],
            scanWindowBytes: 8 * MiB,
            pollIntervalMs: 10,
          },
        },
      ],
      targets: [
        {
          type: 'file',
          name: 'copy',
          feeds: ['oci'],
          path: path.join(dir.path, 'copy', '{disk}.img'),
          flushIntervalMs: 100,
        },
      ],
    },
    'test config',
  );
  const runtime = await startRuntime(config, logger);
  dir.beforeRemoval(() => runtime.close());
  const feed = runtime.feeds.get('oci')!;

  const latestBackup = (volumeId: string): EmulatedBackup =>
    [...store.backups.values()].filter((backup) => backup.volumeId === volumeId).at(-1)!;
  async function cycle(expectedMode: 'FULL' | 'INCREMENTAL') {
    const results = await feed.syncNow(['a', 'b']);
    for (const [index, disk] of ['a', 'b'].entries()) {
      const result = results[index];
      assert.ok(result?.committed, `disk ${disk} committed`);
      assert.equal(result.mode, expectedMode, `disk ${disk} mode`);
      await eventually(
        `restore point of disk ${disk} epoch ${result.committed.epoch}`,
        () => {
          const status = runtime.replays
            .get('copy')!
            .status()
            .disks.find((entry) => entry.diskId === disk);
          if (status?.lastError) throw new Error(status.lastError.message);
          return (status?.lastRestorePoint?.epoch ?? 0) >= result.committed!.epoch
            ? true
            : undefined;
        },
        60_000,
      );
      const volumeId = disk === 'a' ? volumeA.id : volumeB.id;
      assert.equal(
        await sha256OfFile(path.join(dir.path, 'copy', `${disk}.img`)),
        await sha256OfFile(latestBackup(volumeId).path),
        `disk ${disk} equals its backup after a ${expectedMode} cycle`,
      );
    }
    return results;
  }

  await cycle('FULL');
  assert.equal(store.groupBackups.size, 1, 'one group backup serves both disks');

  await writeAt(volumeA.path, 100 * 4096 + 17, patternBytes(3 * 4096, 4)); // unaligned, within data
  await writeAt(volumeA.path, 2 * MiB, Buffer.alloc(MiB)); // zeros over data
  await writeAt(volumeA.path, 20 * MiB, patternBytes(2 * MiB + 5, 5)); // into a hole, across windows
  await writeAt(volumeB.path, 31 * MiB, patternBytes(MiB, 6));
  const [incremental] = await cycle('INCREMENTAL');
  const epoch = incremental!.committed!.epoch;
  const delta = [...store.volumes.values()].filter((volume) => volume.changedRanges !== null);
  const deltaOfA = delta.find((volume) => volume.sizeBytes === 64 * MiB)!;
  assert.deepEqual(
    await publishedRanges(runtime, 'a', epoch),
    deltaOfA.changedRanges,
    'disk a: extents = the delta volume',
  );
  assert.deepEqual(deltaOfA.changedRanges, [
    [4096 * 100, 4096 * 104],
    [2 * MiB, 3 * MiB],
    [20 * MiB, 22 * MiB + 4096],
  ]);
  assert.ok(
    lines.some((line) => line.includes('does not take GET LBA STATUS(32)')),
    'tgtd refused the 32-byte CDB and the scan fell back',
  );

  for (const volume of store.volumes.values())
    if (volume.tid !== null)
      assert.equal(volume.lifecycleState, 'TERMINATED', `restored volume ${volume.id} deleted`);
  for (const attachment of store.attachments.values())
    assert.equal(attachment.lifecycleState, 'DETACHED');
  assert.equal(
    (await tgtd.tgtadm('--lld', 'iscsi', '--mode', 'target', '--op', 'show')).trim(),
    '',
    'no restored volume is left on tgtd',
  );

  // Retention removed the base backup of disk a: its next cycle is FULL, and says why.
  store.backups.delete(latestBackup(volumeA.id).id);
  await writeAt(volumeA.path, 60 * MiB, patternBytes(MiB, 7));
  const results = await feed.syncNow(['a']);
  assert.equal(results[0]?.mode, 'FULL');
  assert.match(results[0]?.rebaselineReason ?? '', /previous backup .* no longer exists/);
  assert.ok(
    emulator.calls.every((call) => call.status !== 401),
    'every request carried a valid signature',
  );
});

test('a request signed with another key is refused: EXTENTLOG_ERR_SOURCE_CLOUD_AUTH', async (t) => {
  const dir = await tempDir(t, 'e2e-oci-auth');
  const tgtd = await Tgtd.start(dir.path);
  dir.beforeRemoval(() => tgtd.stop());
  const registered = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const other = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const emulator = await startOciEmulator({
    tgtd,
    dataDir: dir.path,
    tenancyId: TENANCY,
    userId: USER,
    publicKeyPem: registered.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  });
  dir.beforeRemoval(() => emulator.close());
  const volume = await emulator.store.addVolume(GROUP, 16 * MiB);
  const { OciClient } = await import('../../producers/oci/oci-client.js');
  const { OciRequestSigner } = await import('../../producers/oci/oci-request-signer.js');
  const client = new OciClient({
    endpoint: emulator.endpoint,
    signer: new OciRequestSigner({
      tenancyId: TENANCY,
      userId: USER,
      privateKeyPem: other.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    }),
    logger: pino({ level: 'silent' }),
  });
  await assert.rejects(client.getVolume(volume.id), (error: { code: string; message: string }) => {
    assert.equal(error.code, 'EXTENTLOG_ERR_SOURCE_CLOUD_AUTH');
    assert.match(error.message, /GetVolume .* failed with 401 NotAuthenticated: .*keyId .* is not/);
    return true;
  });
  const signedRight = new OciClient({
    endpoint: emulator.endpoint,
    signer: new OciRequestSigner({
      tenancyId: TENANCY,
      userId: USER,
      privateKeyPem: registered.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    }),
    logger: pino({ level: 'silent' }),
  });
  assert.equal((await signedRight.getVolume(volume.id)).sizeInMBs, 16);
});
