import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { SchemaError } from '../../../schemas/errors.js';
import {
  parseRestorePointKey,
  restorePointKey,
  type RestorePoint,
} from '../../../schemas/restore-point.js';
import { createRestorePointCodec } from '../../../schemas/restore-point-codec.js';
import { valueSubject } from '../../../schemas/subject-name.js';
import { startTestRegistry } from '../../support/test-registry.js';

const registry = await startTestRegistry(after);
const subject = valueSubject('test.restore-points');

const point: RestorePoint = {
  target: 'lun-b',
  feed: 'feed-a',
  disk: 'vm-42/scsi0:1',
  epoch: 7,
  sourceReference: 'snap-2024-01-01',
  digest: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
  diskSizeBytes: 64 * 2 ** 30,
  committedAtMs: 1_700_000_000_999,
  durableAtMs: 1_700_000_001_500,
  location: null,
};

test('restore points round-trip through the registry', async () => {
  const producer = createRestorePointCodec({ registry: registry.client(), subject });
  const id = await producer.register();
  assert.equal(await producer.register(), id);
  const consumer = createRestorePointCodec({ registry: registry.client(), subject });
  for (const value of [
    point,
    { ...point, location: 'manifests/vm-42/7.json', epoch: Number.MAX_SAFE_INTEGER },
  ]) {
    const frame = producer.encode(value);
    assert.equal(frame.readInt32BE(1), id);
    assert.deepEqual(await consumer.decode(frame), value);
  }
  assert.throws(
    () => producer.encode({ ...point, durableAtMs: -1 }),
    (error: unknown) =>
      error instanceof SchemaError &&
      error.code === 'EXTENTLOG_ERR_SCHEMA_UNSAFE_INTEGER' &&
      /field durableAtMs/.test(error.message),
  );
});

test('the key is <target>/<feed>/<disk> and the disk id may contain slashes', () => {
  const key = restorePointKey(point);
  assert.equal(key.toString('utf8'), 'lun-b/feed-a/vm-42/scsi0:1');
  assert.deepEqual(parseRestorePointKey(key), {
    target: 'lun-b',
    feed: 'feed-a',
    disk: 'vm-42/scsi0:1',
  });
  assert.throws(
    () => restorePointKey({ ...point, target: 'a/b' }),
    /target "a\/b": expected a non-empty name without '\/'/,
  );
  assert.throws(() => restorePointKey({ ...point, disk: '' }), /expected a non-empty disk id/);
  assert.throws(
    () => parseRestorePointKey(Buffer.from('only/two')),
    /expected <target>\/<feed>\/<disk>/,
  );
});
