/**
 * The vSphere SOAP client against vcsim (govmomi, built from Debian's library): login and
 * session cookie, the property collector with paging (ContinueRetrievePropertiesEx), finding
 * a VM by name or id, ReconfigVM_Task for change tracking, snapshot tasks, faults — over
 * HTTP, and over HTTPS checked by certificate thumbprint.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import tls from 'node:tls';
import { after, before, describe, test } from 'node:test';
import type { VsphereError } from '../../../producers/vmware/errors.js';
import { element, morefElement } from '../../../producers/vmware/soap-xml.js';
import { VimClient } from '../../../producers/vmware/vim-client.js';
import {
  createSnapshot,
  findVirtualMachine,
  queryChangedDiskAreas,
  removeSnapshot,
  setChangeTracking,
  snapshotDisks,
  virtualMachine,
} from '../../../producers/vmware/vsphere-cbt.js';
import { startVcsim, type Vcsim } from '../../vsphere/vcsim-process.js';

const cleanups: (() => Promise<unknown> | unknown)[] = [];
const cleanup = (fn: () => Promise<unknown> | unknown) => cleanups.push(fn);
let vcsim: Vcsim;
before(async () => {
  vcsim = await startVcsim(cleanup, { diskCapacityBytes: 8 * 1024 * 1024 });
});
after(async () => {
  for (const fn of cleanups.reverse()) await fn();
});

async function login(): Promise<VimClient> {
  const client = await VimClient.connect({ url: vcsim.sdkUrl, username: 'user', password: 'pass' });
  cleanup(() => client.logout().catch(() => undefined));
  return client;
}

describe('over HTTP', () => {
  test('login, then a VM by name and by id, with its disk', async () => {
    const client = await login();
    assert.equal(client.serviceContent.apiVersion, '6.5');
    const byName = await findVirtualMachine(client, 'ha-host_VM0');
    const byId = await findVirtualMachine(client, byName.ref.value);
    assert.deepEqual(byId, byName);
    assert.equal(byName.disks.length, 1);
    assert.equal(byName.disks[0]!.capacityBytes, 8 * 1024 * 1024);
  });

  test('a VM that does not exist is named in the error', async () => {
    const client = await login();
    await assert.rejects(findVirtualMachine(client, 'no-such-vm'), (error: VsphereError) => {
      assert.equal(error.code, 'EXTENTLOG_ERR_VSPHERE_NOT_FOUND');
      assert.match(error.message, /no VM named or with id 'no-such-vm'/);
      return true;
    });
  });

  test('the property collector pages with ContinueRetrievePropertiesEx', async () => {
    const client = await login();
    const { rootFolder } = client.serviceContent;
    const spec =
      `<propSet>${element('type', 'ManagedEntity')}${element('pathSet', 'name')}</propSet>` +
      `<objectSet>${morefElement('obj', rootFolder)}<selectSet xsi:type="TraversalSpec">` +
      `${element('name', 'tree')}${element('type', 'Folder')}${element('path', 'childEntity')}${element('skip', false)}` +
      '</selectSet></objectSet>';
    const all = await client.retrieveProperties(spec, 100);
    const paged = await client.retrieveProperties(spec, 1);
    assert.ok(all.length >= 2, `several entities (${all.length})`);
    assert.deepEqual(
      paged.map((object) => object.obj.value),
      all.map((object) => object.obj.value),
    );
  });

  test('change tracking, a snapshot of the disks, and its removal', async () => {
    const client = await login();
    const vm = await findVirtualMachine(client, 'ha-host_VM0');
    await setChangeTracking(client, vm.ref, true);
    assert.equal((await virtualMachine(client, vm.ref)).changeTrackingEnabled, true);
    const snapshot = await createSnapshot(client, vm.ref, 'test', {
      description: 'a test',
      quiesce: false,
    });
    assert.equal(snapshot.type, 'VirtualMachineSnapshot');
    const disks = await snapshotDisks(client, snapshot);
    assert.deepEqual(
      disks.map((disk) => disk.key),
      vm.disks.map((disk) => disk.key),
    );
    await removeSnapshot(client, snapshot);
    await assert.rejects(removeSnapshot(client, snapshot), (error: VsphereError) => {
      assert.equal(error.code, 'EXTENTLOG_ERR_VSPHERE_FAULT');
      assert.equal(error.details.faultType, 'ManagedObjectNotFound');
      return true;
    });
    await setChangeTracking(client, vm.ref, false);
  });

  test('vcsim does not implement QueryChangedDiskAreas (the reason for the CBT emulator)', async () => {
    const client = await login();
    const vm = await findVirtualMachine(client, 'ha-host_VM0');
    const snapshot = await createSnapshot(client, vm.ref, 'cbt', {
      description: '',
      quiesce: false,
    });
    await assert.rejects(
      queryChangedDiskAreas(client, vm.ref, snapshot, vm.disks[0]!.key, 0, '*'),
      (error: VsphereError) => error.details.faultType === 'MethodNotFound',
    );
    await removeSnapshot(client, snapshot);
  });

  test('a call after logout is refused as not authenticated', async () => {
    const client = await login();
    const vm = await findVirtualMachine(client, 'ha-host_VM0');
    await client.logout();
    await assert.rejects(virtualMachine(client, vm.ref), { code: 'EXTENTLOG_ERR_VSPHERE_AUTH' });
  });

  test('an endpoint that is not there is a retriable connection error', async () => {
    await assert.rejects(
      VimClient.connect({ url: 'http://127.0.0.1:1/sdk', username: 'user', password: 'pass' }),
      (error: VsphereError) => error.code === 'EXTENTLOG_ERR_VSPHERE_CONNECT' && error.retriable,
    );
  });
});

describe('over HTTPS', () => {
  let secure: Vcsim;
  let thumbprint: string;
  before(async () => {
    secure = await startVcsim(cleanup, { diskCapacityBytes: 8 * 1024 * 1024, tls: true });
    const url = new URL(secure.sdkUrl);
    const certificate = await new Promise<tls.PeerCertificate>((resolve, reject) => {
      const socket = tls.connect(
        { host: url.hostname, port: Number(url.port), rejectUnauthorized: false },
        () => {
          resolve(socket.getPeerCertificate());
          socket.end();
        },
      );
      socket.once('error', reject);
    });
    thumbprint = createHash('sha1')
      .update(certificate.raw)
      .digest('hex')
      .toUpperCase()
      .match(/../g)!
      .join(':');
  });

  test('the certificate thumbprint admits the server', async () => {
    const client = await VimClient.connect({
      url: secure.sdkUrl,
      username: 'user',
      password: 'pass',
      thumbprint,
    });
    assert.equal((await findVirtualMachine(client, 'ha-host_VM0')).name, 'ha-host_VM0');
    await client.logout();
  });

  test('a wrong thumbprint, or an unknown CA, refuses it', async () => {
    const wrong = thumbprint.replace(/^../, thumbprint.startsWith('00') ? '11' : '00');
    for (const options of [{ thumbprint: wrong }, {}])
      await assert.rejects(
        VimClient.connect({ url: secure.sdkUrl, username: 'user', password: 'pass', ...options }),
        (error: VsphereError) => {
          assert.equal(error.code, 'EXTENTLOG_ERR_VSPHERE_CONNECT');
          return true;
        },
      );
  });
});
