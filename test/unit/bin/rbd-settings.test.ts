/** The rbd source's settings, as the configuration schema validates them. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseConfig } from '../../../bin/config/load-config.js';

const withSource = (source: Record<string, unknown>) => ({ feeds: [{ name: 'f', source }] });
const images = [{ id: 'disk-0', pool: 'rbd', image: 'vm1' }];
const openstack = {
  authUrl: 'https://keystone.example:5000/v3',
  username: 'u',
  passwordFile: '/p',
  projectName: 'dr',
  servers: ['s-1'],
};

test('an rbd source names images or OpenStack servers, with defaults filled in', () => {
  const direct = parseConfig(
    withSource({ type: 'rbd', ceph: { confFile: '/etc/ceph/ceph.conf' }, images }),
    't',
  ).feeds[0]!.source;
  assert.ok(direct.type === 'rbd');
  assert.deepEqual(
    [direct.ceph.clientId, direct.ceph.timeoutMs, direct.blockSizeBytes],
    ['admin', 30_000, 4096],
  );
  const cloud = parseConfig(
    withSource({ type: 'rbd', ceph: { monHosts: ['10.0.0.1:6789'] }, openstack }),
    't',
  ).feeds[0]!.source;
  assert.ok(cloud.type === 'rbd' && cloud.openstack !== undefined);
  assert.deepEqual(
    [cloud.openstack.pool, cloud.openstack.userDomainName, cloud.openstack.interface],
    ['volumes', 'Default', 'public'],
  );
});

test('an rbd source needs exactly one of images and openstack, and a way to the monitors', () => {
  const ceph = { confFile: '/c' };
  assert.throws(
    () => parseConfig(withSource({ type: 'rbd', ceph, images, openstack }), 't'),
    /exactly one of images or openstack/,
  );
  assert.throws(
    () => parseConfig(withSource({ type: 'rbd', ceph }), 't'),
    /exactly one of images or openstack/,
  );
  assert.throws(
    () => parseConfig(withSource({ type: 'rbd', ceph: { clientId: 'x' }, images }), 't'),
    /confFile or monHosts/,
  );
  assert.throws(
    () =>
      parseConfig(
        withSource({ type: 'rbd', ceph, openstack: { ...openstack, password: 'secret' } }),
        't',
      ),
    /password/,
  );
  assert.throws(
    () => parseConfig(withSource({ type: 'rbd', ceph: { ...ceph, key: 'AQB…' }, images }), 't'),
    /key/,
  );
});
