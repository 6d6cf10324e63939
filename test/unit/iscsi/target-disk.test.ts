/**
 * The iSCSI target disk over an in-memory LUN with a volatile cache: whatever the extents,
 * their alignment, the completion order and the crashes, after flush() the durable medium
 * holds exactly what the extents say — and flush() never resolves before a SYNCHRONIZE CACHE
 * covering every write.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { IscsiTargetDisk } from '../../../consumers/iscsi/target-disk.js';
import type { ApplyExtent } from '../../../consumers/target.js';
import { NativeError } from '../../../native/errors.js';
import { MemoryLun, type MemoryLunOptions } from '../../support/memory-lun.js';
import { silentLogger } from '../../support/silent-logger.js';

const DISK_BYTES = 64 * 1024;

function disk(
  lun: MemoryLun,
  overrides: Partial<ConstructorParameters<typeof IscsiTargetDisk>[0]> = {},
) {
  return new IscsiTargetDisk({
    diskId: 'disk-0',
    lun,
    location: 'iscsi://memory/iqn.2024-01.test:memory/1',
    maxInFlightCommands: 8,
    maxInFlightBytes: 32 * 1024,
    maxUnsyncedBytes: 1 << 30,
    logger: silentLogger,
    ...overrides,
  });
}

function apply(model: Buffer, extent: ApplyExtent): void {
  if (extent.op === 'WRITE') extent.data!.copy(model, extent.offsetBytes);
  else model.fill(0, extent.offsetBytes, extent.offsetBytes + extent.lengthBytes);
}

const extentArbitrary = fc
  .record({
    offsetBytes: fc.integer({ min: 0, max: DISK_BYTES - 1 }),
    lengthBytes: fc.integer({ min: 1, max: 9000 }),
    op: fc.constantFrom('WRITE', 'WRITE', 'ZERO', 'DISCARD'),
    seed: fc.integer({ min: 1, max: 255 }),
  })
  .map(({ offsetBytes, lengthBytes, op, seed }): ApplyExtent => {
    const length = Math.min(lengthBytes, DISK_BYTES - offsetBytes);
    return {
      offsetBytes,
      lengthBytes: length,
      op: op as ApplyExtent['op'],
      data: op === 'WRITE' ? Buffer.alloc(length, seed) : null,
    };
  });

test('after flush() the durable medium equals the extents applied in order, across crashes', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(extentArbitrary, { minLength: 1, maxLength: 40 }),
      fc.option(fc.integer({ min: 1, max: 60 }), { nil: null }),
      fc.constantFrom<Partial<MemoryLunOptions>>(
        {},
        { blockSizeBytes: 4096 },
        {
          geometry: {
            unmapSupported: false,
            writeSameUnmapSupported: false,
            readsZerosWhenUnmapped: false,
          },
        },
      ),
      fc.integer(),
      async (extents, crashAfter, lunOptions, seed) => {
        let state = seed >>> 0 || 1;
        const random = () => {
          state = (state * 1103515245 + 12345) >>> 0;
          return state / 2 ** 32;
        };
        const lun = new MemoryLun({ sizeBytes: DISK_BYTES, random, ...lunOptions });
        lun.crashAfter = crashAfter;
        const target = disk(lun);
        const model = Buffer.alloc(DISK_BYTES);
        for (const extent of extents) {
          await target.apply(extent);
          apply(model, extent);
        }
        await target.flush();
        assert.ok(lun.durable.equals(model), 'durable medium equals the extents');
        await target.close();
      },
    ),
    { numRuns: 150 },
  );
});

test('flush() resolves only after a SYNCHRONIZE CACHE that follows every write', async () => {
  const lun = new MemoryLun({ sizeBytes: DISK_BYTES });
  const target = disk(lun);
  await target.apply({
    offsetBytes: 0,
    lengthBytes: 4096,
    op: 'WRITE',
    data: Buffer.alloc(4096, 3),
  });
  await target.apply({
    offsetBytes: 8192,
    lengthBytes: 1000,
    op: 'WRITE',
    data: Buffer.alloc(1000, 4),
  });
  assert.equal(
    lun.durable.subarray(0, 4096).equals(Buffer.alloc(4096, 3)),
    false,
    'not durable before flush',
  );
  await target.flush();
  const lastWrite = lun.commands.findLastIndex((command) => command.kind === 'write');
  const sync = lun.commands.findLastIndex((command) => command.kind === 'synchronize-cache');
  assert.ok(sync > lastWrite, 'SYNCHRONIZE CACHE after the last write');
  assert.ok(lun.durable.subarray(0, 4096).equals(Buffer.alloc(4096, 3)));
});

test('a crash after writes were acknowledged: they are issued again before the cache is synchronized', async () => {
  const lun = new MemoryLun({ sizeBytes: DISK_BYTES, random: () => 0 });
  const target = disk(lun);
  const data = Buffer.alloc(8192, 9);
  await target.apply({ offsetBytes: 0, lengthBytes: data.length, op: 'WRITE', data });
  await target.apply({ offsetBytes: 16384, lengthBytes: 512, op: 'ZERO', data: null });
  // Let the commands complete on session 1, then the target restarts.
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(lun.inFlight, 0);
  lun.crashAfter = 1;
  await target.flush();
  assert.ok(lun.durable.subarray(0, 8192).equals(data), 'the lost write was issued again');
  const writes = lun.commands.filter((command) => command.kind === 'write');
  assert.ok(writes.length >= 2, 'the write went out twice');
});

test('commands in flight stay within maxInFlightCommands and maxInFlightBytes', async () => {
  const lun = new MemoryLun({ sizeBytes: 1 << 20, geometry: { maxWriteBytes: 4096 } });
  const target = disk(lun, {
    maxInFlightCommands: 3,
    maxInFlightBytes: 1 << 20,
    maxUnsyncedBytes: 64 * 1024,
  });
  for (let index = 0; index < 64; index++)
    await target.apply({
      offsetBytes: index * 8192,
      lengthBytes: 8192,
      op: 'WRITE',
      data: Buffer.alloc(8192, index),
    });
  await target.flush();
  assert.ok(lun.peakInFlight <= 3, `peak ${lun.peakInFlight}`);
  assert.ok(lun.peakInFlight > 1, 'commands did overlap in time');
  const syncs = lun.commands.filter((command) => command.kind === 'synchronize-cache').length;
  assert.ok(syncs >= 8, `maxUnsyncedBytes forced early synchronization (${syncs} syncs)`);
});

test('ZERO unmaps on a thin LUN; refused WRITE SAME and UNMAP fall back to writing zeros', async () => {
  const thin = new MemoryLun({ sizeBytes: DISK_BYTES });
  const onThin = disk(thin);
  await onThin.apply({ offsetBytes: 4096, lengthBytes: 8192, op: 'ZERO', data: null });
  await onThin.apply({ offsetBytes: 32768, lengthBytes: 8192, op: 'DISCARD', data: null });
  await onThin.flush();
  assert.ok(
    thin.commands.some((command) => command.kind === 'write-same' && command.unmap === true),
  );
  assert.ok(thin.commands.some((command) => command.kind === 'unmap'));
  assert.equal(thin.unmapped.size, 32);

  const refusing = new MemoryLun({ sizeBytes: DISK_BYTES, refuse: ['write-same', 'unmap'] });
  refusing.cache.fill(0xff);
  refusing.durable.fill(0xff);
  const onRefusing = disk(refusing);
  await onRefusing.apply({ offsetBytes: 4096, lengthBytes: 8192, op: 'ZERO', data: null });
  await onRefusing.apply({ offsetBytes: 32768, lengthBytes: 8192, op: 'DISCARD', data: null });
  await onRefusing.flush();
  assert.ok(refusing.durable.subarray(4096, 12288).equals(Buffer.alloc(8192)));
  assert.ok(refusing.durable.subarray(32768, 40960).equals(Buffer.alloc(8192)));
});

test('a LUN without SYNCHRONIZE CACHE is taken as write-through', async () => {
  const lun = new MemoryLun({ sizeBytes: DISK_BYTES, refuse: ['synchronize-cache'] });
  const target = disk(lun);
  await target.apply({ offsetBytes: 0, lengthBytes: 512, op: 'WRITE', data: Buffer.alloc(512, 1) });
  await target.flush();
  await target.flush();
});

test('a command that fails for good fails the disk: later calls throw it as a TargetError', async () => {
  const lun = new MemoryLun({ sizeBytes: DISK_BYTES });
  const target = disk(lun);
  lun.failNext = new NativeError(
    'EXTENTLOG_ERR_NATIVE_ISCSI_SCSI',
    'WRITE(16) failed: MEDIUM ERROR',
    {
      details: { senseKey: 3, asc: 0x0c, ascq: 0 },
    },
  );
  await target.apply({ offsetBytes: 0, lengthBytes: 512, op: 'WRITE', data: Buffer.alloc(512, 1) });
  await assert.rejects(target.flush(), (error: NativeError) => {
    assert.equal(error.code, 'EXTENTLOG_ERR_TARGET_WRITE');
    assert.equal(error.retriable, false);
    assert.match(error.message, /disk disk-0: .*MEDIUM ERROR/);
    return true;
  });
  await assert.rejects(
    target.apply({ offsetBytes: 0, lengthBytes: 512, op: 'WRITE', data: Buffer.alloc(512) }),
    /MEDIUM ERROR/,
  );
});

test('extents beyond the LUN and epochs for a larger disk are refused', async () => {
  const lun = new MemoryLun({ sizeBytes: DISK_BYTES });
  const target = disk(lun);
  await assert.rejects(
    target.apply({ offsetBytes: DISK_BYTES - 100, lengthBytes: 200, op: 'ZERO', data: null }),
    { code: 'EXTENTLOG_ERR_TARGET_BAD_EXTENT' },
  );
  await assert.rejects(
    target.beginEpoch({
      epoch: 2,
      mode: 'FULL',
      diskSizeBytes: 2 * DISK_BYTES,
      baseEpoch: null,
      sourceReference: 'r',
    }),
    (error: NativeError) => {
      assert.equal(error.code, 'EXTENTLOG_ERR_TARGET_TOO_SMALL');
      assert.match(
        error.message,
        /has only 65536 bytes \(128 blocks of 512\): give the LUN at least 131072 bytes/,
      );
      return true;
    },
  );
});
