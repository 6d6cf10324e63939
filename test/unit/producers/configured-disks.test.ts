import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfiguredDisks, isPowerOfTwoWithin } from '../../../producers/configured-disks.js';
import { SourceError } from '../../../producers/errors.js';

test('a size setting is an integer power of two within its bounds', () => {
  for (const value of [512, 4096, 1024 * 1024])
    assert.equal(isPowerOfTwoWithin(value, 512, 1024 * 1024), true);
  for (const value of [256, 2 * 1024 * 1024, 3072, 4096.5, Number.NaN, -4096])
    assert.equal(isPowerOfTwoWithin(value, 512, 1024 * 1024), false, String(value));
});

test('an unknown disk is an error naming the configured ones', () => {
  const disks = new ConfiguredDisks(
    'oci',
    new Map([
      ['vm-1', { volumeId: 'a' }],
      ['vm-2', { volumeId: 'b' }],
    ]),
  );
  assert.deepEqual(disks.get('vm-2'), { volumeId: 'b' });
  assert.deepEqual([...disks.values()].length, 2);
  assert.throws(
    () => disks.get('vm-3'),
    (error: unknown) =>
      error instanceof SourceError &&
      error.code === 'EXTENTLOG_ERR_SOURCE_UNKNOWN_DISK' &&
      error.message === 'oci source: no disk vm-3 is configured (configured: vm-1, vm-2)',
  );
});
