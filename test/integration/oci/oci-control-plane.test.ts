/**
 * The OCI client and source against the emulator's failure modes: throttling and server
 * errors are retried, a create whose answer was lost is retried with the same
 * opc-retry-token and makes one resource, a 404 is reported with the service's code and
 * request id, and a cycle that cannot attach its restored volume deletes it again.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { after, before, test } from 'node:test';
import { pino } from 'pino';
import { OciClient } from '../../../producers/oci/oci-client.js';
import { OciRequestSigner } from '../../../producers/oci/oci-request-signer.js';
import { createOciSource } from '../../../producers/oci/oci-source.js';
import { startOciEmulator, type OciEmulator } from '../../emulators/oci/oci-emulator.js';
import { Tgtd } from '../../peers/tgtd.js';
import { patternBytes, writeAt } from '../../support/image-files.js';
import { makeTempDir } from '../../support/temp-dir.js';

const MiB = 1024 * 1024;
const GROUP = 'ocid1.volumegroup.oc1.emulated.cp';
const silent = pino({ level: 'silent' });

let tmp: { dir: string; remove: () => Promise<void> };
let tgtd: Tgtd;
let emulator: OciEmulator;
let client: OciClient;

before(async () => {
  tmp = await makeTempDir('oci-control-plane');
  tgtd = await Tgtd.start(tmp.dir);
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  emulator = await startOciEmulator({
    tgtd,
    dataDir: tmp.dir,
    tenancyId: 'ocid1.tenancy.oc1..cp',
    userId: 'ocid1.user.oc1..cp',
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    pollsToSettle: 1,
  });
  client = new OciClient({
    endpoint: emulator.endpoint,
    signer: new OciRequestSigner({
      tenancyId: 'ocid1.tenancy.oc1..cp',
      userId: 'ocid1.user.oc1..cp',
      privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    }),
    pollIntervalMs: 5,
    logger: silent,
  });
});

after(async () => {
  await emulator?.close();
  await tgtd?.stop();
  await tmp?.remove();
});

test('429 and 503 are retried; 404 is reported with the service code and opc-request-id', async () => {
  const volume = await emulator.store.addVolume(GROUP, 8 * MiB);
  emulator.faults.push(
    { method: 'GET', path: /volumes\//, status: 429, code: 'TooManyRequests' },
    { method: 'GET', path: /volumes\//, status: 503, code: 'ServiceUnavailable' },
  );
  assert.equal((await client.getVolume(volume.id)).id, volume.id);
  assert.equal(emulator.faults.length, 0);
  await assert.rejects(
    client.getVolume('ocid1.volume.oc1..missing'),
    (error: { code: string; retriable: boolean; message: string }) => {
      assert.equal(error.code, 'EXTENTLOG_ERR_SOURCE_CLOUD_API');
      assert.equal(error.retriable, false);
      assert.match(
        error.message,
        /GetVolume \(GET \/20160918\/volumes\/ocid1\.volume\.oc1\.\.missing\) failed with 404 NotAuthorizedOrNotFound: .*\(opc-request-id [0-9A-F]{32}\)/,
      );
      return true;
    },
  );
});

test('a create whose answer was lost is retried with the same opc-retry-token: one group backup', async () => {
  await emulator.store.addVolume(GROUP, 8 * MiB);
  const before = emulator.store.groupBackups.size;
  emulator.faults.push({
    method: 'POST',
    path: /volumeGroupBackups/,
    status: 503,
    code: 'ServiceUnavailable',
    afterHandling: true,
  });
  const created = await client.createVolumeGroupBackup({
    volumeGroupId: GROUP,
    displayName: 'retry',
    type: 'INCREMENTAL',
  });
  assert.equal(emulator.store.groupBackups.size, before + 1);
  assert.ok(emulator.store.groupBackups.has(created.body.id));
});

test('a cycle whose volume cannot be attached deletes the volume it restored', async () => {
  const volume = await emulator.store.addVolume('ocid1.volumegroup.oc1.emulated.attach', 8 * MiB);
  await writeAt(volume.path, 0, patternBytes(MiB, 1));
  const source = createOciSource({
    client,
    volumeGroupId: 'ocid1.volumegroup.oc1.emulated.attach',
    compartmentId: 'ocid1.compartment.oc1..cp',
    availabilityDomain: 'emulated:AD-1',
    instanceId: 'ocid1.instance.oc1..cp',
    disks: [{ diskId: 'd', volumeId: volume.id }],
    initiatorIqn: 'iqn.2024-01.io.extentlog:cp',
    logger: silent,
  });
  const [disk] = await source.disks();
  for (let attempt = 0; attempt < 6; attempt++)
    emulator.faults.push({
      method: 'POST',
      path: /volumeAttachments/,
      status: 500,
      code: 'InternalServerError',
    });
  await assert.rejects(source.open(disk!, null), { code: 'EXTENTLOG_ERR_SOURCE_CLOUD_API' });
  const restored = [...emulator.store.volumes.values()].filter((entry) => entry.tid !== null);
  assert.ok(restored.length > 0);
  for (const entry of restored) assert.equal(entry.lifecycleState, 'TERMINATED');

  // The next open attaches, and its cycle releases everything on abort.
  const cycle = await source.open(disk!, null);
  assert.equal(cycle.mode, 'FULL');
  await cycle.abort('test');
  for (const entry of emulator.store.volumes.values())
    if (entry.tid !== null) assert.equal(entry.lifecycleState, 'TERMINATED');
  for (const attachment of emulator.store.attachments.values())
    assert.equal(attachment.lifecycleState, 'DETACHED');
  await source.close();
});
