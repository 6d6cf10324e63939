/** The qemu and vmware source settings, as the configuration schema validates them. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseConfig } from '../../../bin/config/load-config.js';

const withSource = (source: Record<string, unknown>) => ({ feeds: [{ name: 'f', source }] });

test('qemu disks need an image, or a qmpSocket and a node', () => {
  const config = parseConfig(
    withSource({ type: 'qemu', disks: [{ id: 'a', image: '/a.qcow2' }] }),
    't',
  );
  const source = config.feeds[0]!.source;
  assert.ok(source.type === 'qemu');
  assert.equal(source.bitmapGranularityBytes, 65536);
  assert.equal(source.nbdConnections, 4);
  for (const disk of [
    { id: 'a' },
    { id: 'a', image: '/a', qmpSocket: '/q', node: 'n' },
    { id: 'a', qmpSocket: '/q' },
  ])
    assert.throws(
      () => parseConfig(withSource({ type: 'qemu', disks: [disk] }), 't'),
      /expected either image, or qmpSocket and node/,
    );
});

test('vmware sources take secrets from files only, and suggest the key meant', () => {
  const base = {
    type: 'vmware',
    url: 'https://vc/sdk',
    username: 'u',
    passwordFile: '/p',
    disks: [{ id: 'a', vm: 'vm-1' }],
    snapshotReader: { type: 'command', command: ['nbdkit'] },
  };
  const config = parseConfig(withSource(base), 't');
  assert.ok(config.feeds[0]!.source.type === 'vmware');
  assert.throws(() => parseConfig(withSource({ ...base, password: 'secret' }), 't'), /password/);
  assert.throws(
    () =>
      parseConfig(
        withSource({ ...base, snapshotReader: { type: 'nbdkit-vddk', libdir: '/x' } }),
        't',
      ),
    /thumbprint/,
  );
});
