/**
 * The rbd source's failures against a real cephx-enabled single-node Ceph cluster and the
 * OpenStack emulator: a wrong cephx key, an unreachable monitor, a refused Keystone password,
 * an unknown server and a Cinder snapshot that fails are clear errors; an aborted cycle
 * removes its snapshot and keeps the previous one; leftovers of crashed cycles are removed.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { after, before, test } from 'node:test';
import { createCephConnection } from '../../producers/rbd/ceph-connection.js';
import { createCinderSnapshots } from '../../producers/rbd/cinder-snapshots.js';
import { createDirectSnapshots } from '../../producers/rbd/direct-snapshots.js';
import { OpenStackClient } from '../../producers/rbd/openstack-client.js';
import { createRbdSource } from '../../producers/rbd/rbd-source.js';
import { SourceError } from '../../producers/errors.js';
import type { ChangeSet } from '../../producers/source.js';
import {
  startOpenStackEmulator,
  type OpenStackEmulator,
} from '../emulators/openstack/openstack-emulator.js';
import { eventually } from '../support/eventually.js';
import { startRbdCluster, type RbdCluster } from '../support/rbd-cluster.js';
import { silentLogger } from '../support/silent-logger.js';

const user = { name: 'replicator', domain: 'Default', password: 'right', project: 'dr' };

let ceph: RbdCluster;
let openstack: OpenStackEmulator;
let adminKey: string;
before(async () => {
  ceph = await startRbdCluster(['rbd', 'volumes'], 'cephx');
  openstack = await startOpenStackEmulator({
    user,
    pool: 'volumes',
    rbd: (args) => ceph.rbd(args),
    maxPageSize: 1, // the source must read every page of a volume's snapshots
  });
  const keyring = await readFile(ceph.keyringPath, 'utf8');
  adminKey = /\[client\.admin\]\s+key = (\S+)/.exec(keyring)![1]!;
});
after(async () => {
  await openstack?.close();
  await ceph?.stop();
});

async function sourceError(promise: Promise<unknown>): Promise<SourceError> {
  const error = await promise.then(
    () => assert.fail('expected an error'),
    (caught: unknown) => caught,
  );
  assert.ok(error instanceof SourceError, String(error));
  return error;
}

function directSource(connection: ReturnType<typeof createCephConnection>, image: string) {
  return createRbdSource({
    connection,
    snapshots: createDirectSnapshots([{ diskId: 'disk-0', pool: 'rbd', image }], () =>
      connection.cluster(),
    ),
    logger: silentLogger,
  });
}

async function drain(cycle: ChangeSet) {
  for await (const item of cycle.changes()) void item;
}

async function snapNames(spec: string): Promise<string[]> {
  const listed = JSON.parse(await ceph.rbd(['snap', 'ls', '--format', 'json', spec])) as {
    name: string;
  }[];
  return listed.map((snap) => snap.name);
}

test('a wrong cephx key is refused with an auth error that does not show the key', async () => {
  const wrongKey = 'AQBq2mVl7ELOFhAA8tTLL1Ssz9Xw6X4wdZ5Xrw==';
  const source = directSource(
    createCephConnection({ confPath: ceph.confPath, key: wrongKey, timeoutMs: 10_000 }),
    'any',
  );
  const error = await sourceError(source.disks());
  assert.equal(error.code, 'EXTENTLOG_ERR_SOURCE_AUTH');
  assert.equal(error.retriable, false);
  assert.match(error.message, /Ceph refused client\.admin .*EACCES.*check the cephx key/);
  assert.doesNotMatch(error.message, new RegExp(wrongKey.slice(0, 12)));
  await source.close();
  const unknownClient = directSource(
    createCephConnection({ confPath: ceph.confPath, clientId: 'nobody', timeoutMs: 10_000 }),
    'any',
  );
  assert.equal((await sourceError(unknownClient.disks())).code, 'EXTENTLOG_ERR_SOURCE_AUTH');
  await unknownClient.close();
});

test('an unreachable monitor fails after the timeout with a connect error', async () => {
  const source = directSource(
    createCephConnection({
      monHosts: ['127.0.0.1:9'],
      key: adminKey,
      timeoutMs: 2000,
    }),
    'any',
  );
  const error = await sourceError(source.disks());
  assert.equal(error.code, 'EXTENTLOG_ERR_SOURCE_CONNECT');
  assert.equal(error.retriable, true);
  assert.match(
    error.message,
    /could not connect client\.admin at monitors 127\.0\.0\.1:9: .*ETIMEDOUT.*gave up after 2000 ms/,
  );
  await source.close();
});

test('an aborted cycle removes its snapshot and keeps the committed one; leftovers are removed', async () => {
  await ceph.rbd(['create', '--size', '8M', 'rbd/aborts']);
  const connection = createCephConnection({ monHosts: ceph.monHosts, key: adminKey });
  const source = directSource(connection, 'aborts');
  const [disk] = await source.disks();
  assert.deepEqual(disk, { diskId: 'disk-0', sizeBytes: 8 * 1024 * 1024, blockSizeBytes: 4096 });
  const first = await source.open(disk!, null);
  assert.equal(first.mode, 'FULL');
  await drain(first);
  await first.commit();
  const committed = first.reference.split('@')[1]!;
  await ceph.rbd(['snap', 'create', 'rbd/aborts@extentlog-1-deadbeef']); // a crashed cycle's
  await ceph.rbd(['snap', 'create', 'rbd/aborts@operator-snap']); // not the source's
  const second = await source.open(disk!, { epoch: 1, reference: first.reference });
  assert.equal(second.mode, 'INCREMENTAL');
  assert.equal(second.baseReference, first.reference);
  await second.abort(new Error('the log was unreachable'));
  assert.deepEqual((await snapNames('rbd/aborts')).sort(), [committed, 'operator-snap'].sort());
  await source.close();
});

test('OpenStack: an unreachable Keystone, a refused password, an unknown server and a failed Cinder snapshot are clear errors', async () => {
  const client = (password: string) =>
    new OpenStackClient({
      authUrl: openstack.authUrl,
      username: user.name,
      password,
      userDomainName: user.domain,
      projectName: user.project,
      projectDomainName: user.domain,
    });
  const connection = createCephConnection({ confPath: ceph.confPath });
  const cinder = (password: string, serverIds: string[]) =>
    createRbdSource({
      connection,
      snapshots: createCinderSnapshots({
        client: client(password),
        serverIds,
        pool: 'volumes',
        pollIntervalMs: 50,
      }),
      logger: silentLogger,
    });
  const unreachable = new OpenStackClient({
    authUrl: 'http://127.0.0.1:2/v3', // nothing listens (9 is a port fetch refuses)
    username: user.name,
    password: user.password,
    userDomainName: user.domain,
    projectName: user.project,
    projectDomainName: user.domain,
  });
  const down = await sourceError(unreachable.volumeAttachments('x'));
  assert.equal(down.code, 'EXTENTLOG_ERR_SOURCE_CONNECT');
  assert.match(
    down.message,
    /POST http:\/\/127\.0\.0\.1:2\/v3\/auth\/tokens did not answer: ECONNREFUSED/,
  );

  const refused = await sourceError(cinder('wrong', ['x']).disks());
  assert.equal(refused.code, 'EXTENTLOG_ERR_SOURCE_AUTH');
  assert.match(refused.message, /Keystone refused user replicator .*401/);
  assert.doesNotMatch(refused.message, /wrong/);

  const unknown = await sourceError(cinder(user.password, ['no-such-server']).disks());
  assert.equal(unknown.code, 'EXTENTLOG_ERR_SOURCE_API');
  assert.match(unknown.message, /Nova has no server no-such-server/);

  // A volume whose RBD image is missing: Cinder's snapshot goes to `error`.
  const serverId = randomUUID();
  const volumeId = randomUUID();
  openstack.addServer(serverId, [{ id: volumeId, sizeGiB: 1 }]);
  const source = cinder(user.password, [serverId]);
  const failed = await sourceError(
    source.open({ diskId: volumeId, sizeBytes: 0, blockSizeBytes: 4096 }, null),
  );
  assert.equal(failed.code, 'EXTENTLOG_ERR_SOURCE_API');
  assert.match(failed.message, new RegExp(`Cinder snapshot \\S+ of volume ${volumeId} is error`));
  await eventually('the failed snapshot deleted', () =>
    openstack.snapshotsOf(volumeId).length === 0 ? true : undefined,
  );
  await source.close();
  await connection.close();
});

test('OpenStack: a crashed cycle’s Cinder snapshot is deleted at the next cycle; others are kept', async () => {
  const serverId = randomUUID();
  const volumeId = randomUUID();
  await ceph.rbd(['create', '--size', '8M', `volumes/volume-${volumeId}`]);
  openstack.addServer(serverId, [{ id: volumeId, sizeGiB: 1 }]);
  const client = new OpenStackClient({
    authUrl: openstack.authUrl,
    username: user.name,
    password: user.password,
    userDomainName: user.domain,
    projectName: user.project,
    projectDomainName: user.domain,
  });
  const connection = createCephConnection({ confPath: ceph.confPath });
  const source = createRbdSource({
    connection,
    snapshots: createCinderSnapshots({
      client,
      serverIds: [serverId],
      pool: 'volumes',
      pollIntervalMs: 50,
    }),
    logger: silentLogger,
  });
  const [disk] = await source.disks();
  assert.equal(disk?.diskId, volumeId);
  const first = await source.open(disk!, null);
  await drain(first);
  await first.commit();
  const available = async (name: string) => {
    const snapshot = await client.createSnapshot(volumeId, name, 'test');
    await eventually(`${name} available`, async () =>
      (await client.snapshot(snapshot.id))?.status === 'available' ? true : undefined,
    );
    return snapshot.id;
  };
  const crashed = await available('extentlog-1700000000'); // what a crashed cycle leaves
  const operators = await available('before-upgrade');
  const second = await source.open(disk!, { epoch: 1, reference: first.reference });
  assert.equal(second.mode, 'INCREMENTAL');
  await drain(second);
  await second.commit();
  const current = second.reference.split('@snapshot-')[1]!;
  await eventually('only the committed and the operator’s snapshots', () => {
    const left = openstack
      .snapshotsOf(volumeId)
      .map((snapshot) => snapshot.id)
      .sort();
    return JSON.stringify(left) === JSON.stringify([current, operators].sort()) ? left : undefined;
  });
  assert.ok(!openstack.snapshotsOf(volumeId).some((snapshot) => snapshot.id === crashed));
  await source.close();
});
