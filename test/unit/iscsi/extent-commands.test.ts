/** Extents into SCSI block commands: splitting by the LUN's limits, partial blocks, ZERO and DISCARD by provisioning. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { planExtent } from '../../../consumers/iscsi/extent-commands.js';
import type { LunGeometry } from '../../../consumers/iscsi/lun.js';

const thin: LunGeometry = {
  blockSizeBytes: 512,
  sizeBytes: 1 << 30,
  maxWriteBytes: 4096,
  maxWriteSameBlocks: 16,
  maxUnmapBlocks: 8,
  maxUnmapDescriptors: 2,
  unmapSupported: true,
  writeSameUnmapSupported: true,
  readsZerosWhenUnmapped: true,
};
const full: LunGeometry = {
  ...thin,
  unmapSupported: false,
  writeSameUnmapSupported: false,
  readsZerosWhenUnmapped: false,
};

function shape(commands: ReturnType<typeof planExtent>) {
  return commands.map((command) =>
    command.kind === 'write'
      ? ['write', command.lba, command.data.length]
      : command.kind === 'write-same'
        ? ['write-same', command.lba, command.blocks, command.unmap]
        : command.kind === 'unmap'
          ? ['unmap', command.ranges.map((range) => [range.lba, range.blocks])]
          : [
              'patch',
              command.lba,
              command.offsetInBlockBytes,
              command.lengthBytes,
              command.bytes?.length ?? null,
            ],
  );
}

test('an aligned WRITE is cut at maxWriteBytes into views of the data', () => {
  const data = Buffer.alloc(10240, 7);
  const commands = planExtent({ offsetBytes: 1024, lengthBytes: 10240, op: 'WRITE', data }, thin);
  assert.deepEqual(shape(commands), [
    ['write', 2, 4096],
    ['write', 10, 4096],
    ['write', 18, 2048],
  ]);
  const first = commands[0];
  assert.ok(first?.kind === 'write' && first.data.buffer === data.buffer, 'no copy');
});

test('an unaligned WRITE patches its partial edge blocks', () => {
  const data = Buffer.alloc(2000, 1);
  assert.deepEqual(
    shape(planExtent({ offsetBytes: 100, lengthBytes: 2000, op: 'WRITE', data }, thin)),
    [
      ['patch', 0, 100, 412, 412],
      ['write', 1, 1536],
      ['patch', 4, 0, 52, 52],
    ],
  );
  assert.deepEqual(
    shape(
      planExtent(
        { offsetBytes: 600, lengthBytes: 10, op: 'WRITE', data: data.subarray(0, 10) },
        thin,
      ),
    ),
    [['patch', 1, 88, 10, 10]],
  );
  assert.deepEqual(
    shape(
      planExtent(
        { offsetBytes: 500, lengthBytes: 30, op: 'WRITE', data: data.subarray(0, 30) },
        thin,
      ),
    ),
    [
      ['patch', 0, 500, 12, 12],
      ['patch', 1, 0, 18, 18],
    ],
  );
  assert.deepEqual(
    shape(
      planExtent(
        { offsetBytes: 512, lengthBytes: 100, op: 'WRITE', data: data.subarray(0, 100) },
        thin,
      ),
    ),
    [['patch', 1, 0, 100, 100]],
  );
});

test('ZERO: WRITE SAME with UNMAP on a thin LUN that reads zeros, without UNMAP elsewhere', () => {
  const extent = { offsetBytes: 512, lengthBytes: 20 * 512, op: 'ZERO' as const, data: null };
  assert.deepEqual(shape(planExtent(extent, thin)), [
    ['write-same', 1, 16, true],
    ['write-same', 17, 4, true],
  ]);
  assert.deepEqual(shape(planExtent(extent, { ...thin, readsZerosWhenUnmapped: false })), [
    ['write-same', 1, 16, false],
    ['write-same', 17, 4, false],
  ]);
  assert.deepEqual(shape(planExtent({ ...extent, offsetBytes: 300 }, full)), [
    ['patch', 0, 300, 212, null],
    ['write-same', 1, 16, false],
    ['write-same', 17, 3, false],
    ['patch', 20, 0, 300, null],
  ]);
});

test('DISCARD: UNMAP descriptors within the limits when supported, else as ZERO', () => {
  const extent = { offsetBytes: 0, lengthBytes: 20 * 512, op: 'DISCARD' as const, data: null };
  assert.deepEqual(shape(planExtent(extent, thin)), [
    [
      'unmap',
      [
        [0, 8],
        [8, 8],
      ],
    ],
    ['unmap', [[16, 4]]],
  ]);
  assert.deepEqual(shape(planExtent(extent, full)), [
    ['write-same', 0, 16, false],
    ['write-same', 16, 4, false],
  ]);
});
