/**
 * The GET LBA STATUS scanner against a device that answers as SBC-4 says: windows of at most
 * 1 GiB, paging on "allocation length met", windows ended on "scan length met", the fallback
 * to the 16-byte CDB when the 32-byte one is refused, and full-volume allocation maps.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  MAX_SCAN_WINDOW_BYTES,
  scanLbaStatus,
  type ScannedRange,
} from '../../../producers/oci/lba-status-scanner.js';
import { SpecLbaStatusDevice, type StatusRun } from '../../support/lba-status-device.js';

const BS = 4096;

async function collect(
  generator: AsyncGenerator<ScannedRange>,
): Promise<[number, number, string][]> {
  const ranges: [number, number, string][] = [];
  for await (const range of generator)
    ranges.push([range.startBytes / BS, range.endBytes / BS, range.kind]);
  return ranges;
}

// 300 blocks: changed (3) at 10–19, 64–70 (across a 64-block window edge), 150, 290–299.
const runs: StatusRun[] = [
  { lba: 0, blocks: 10, status: 0 },
  { lba: 10, blocks: 10, status: 3 },
  { lba: 20, blocks: 40, status: 0 },
  { lba: 60, blocks: 11, status: 3 },
  { lba: 71, blocks: 79, status: 0 },
  { lba: 150, blocks: 1, status: 3 },
  { lba: 151, blocks: 1, status: 1 },
  { lba: 152, blocks: 138, status: 0 },
  { lba: 290, blocks: 10, status: 3 },
];

test('changed ranges from GET LBA STATUS(32), report type 1, paged by allocation length within windows', async () => {
  const device = new SpecLbaStatusDevice(runs);
  const ranges = await collect(
    scanLbaStatus({
      device,
      blocks: 300,
      blockSizeBytes: BS,
      windowBytes: 64 * BS,
      mode: 'changed',
      allocationBytes: 8 + 16,
    }),
  );
  assert.deepEqual(ranges, [
    [10, 20, 'data'],
    [60, 71, 'data'],
    [150, 151, 'data'],
    [290, 300, 'data'],
  ]);
  const requests = device.requests as {
    lba: number;
    scanLengthBlocks: number;
    reportType: number;
  }[];
  assert.ok(
    requests.every((request) => request.reportType === 1 && request.scanLengthBlocks <= 64),
  );
  assert.deepEqual(
    requests.slice(0, 3).map((request) => [request.lba, request.scanLengthBlocks]),
    [
      [0, 64], // returns 10–19 only (one descriptor fits): allocation length met
      [20, 44], // returns 60–63: scan length met
      [64, 64], // the next window
    ],
  );
});

test('the default window is 1 GiB of blocks at most', async () => {
  const blocks = (3 * MAX_SCAN_WINDOW_BYTES) / BS;
  const device = new SpecLbaStatusDevice([{ lba: 0, blocks, status: 0 }]);
  assert.deepEqual(
    await collect(scanLbaStatus({ device, blocks, blockSizeBytes: BS, mode: 'changed' })),
    [],
  );
  const requests = device.requests as { scanLengthBlocks: number }[];
  assert.equal(requests.length, 3);
  assert.ok(requests.every((request) => request.scanLengthBlocks === MAX_SCAN_WINDOW_BYTES / BS));
});

test('a device that refuses the 32-byte CDB is scanned with GET LBA STATUS(16): mapped blocks are the changed ones', async () => {
  // As tgtd: the 16-byte form reports mapped (0) and deallocated (1) only.
  const tgtdLike = runs.map((run) => ({ ...run, status: run.status === 3 ? 0 : 1 }));
  const device = new SpecLbaStatusDevice(tgtdLike, { refuse32: true });
  const fallbacks: string[] = [];
  const ranges = await collect(
    scanLbaStatus({
      device,
      blocks: 300,
      blockSizeBytes: BS,
      windowBytes: 64 * BS,
      mode: 'changed',
      allocationBytes: 8 + 2 * 16,
      onFallback: (reason) => fallbacks.push(reason),
    }),
  );
  assert.deepEqual(ranges, [
    [10, 20, 'data'],
    [60, 71, 'data'],
    [150, 151, 'data'],
    [290, 300, 'data'],
  ]);
  assert.equal(fallbacks.length, 1);
  assert.equal(
    device.requests.filter((request) => 'form' in request).length,
    device.requests.length - 1,
  );
});

test('allocation mode covers the whole volume: mapped as data, deallocated as unmapped', async () => {
  const device = new SpecLbaStatusDevice([
    { lba: 0, blocks: 5, status: 0 },
    { lba: 5, blocks: 100, status: 1 },
    { lba: 105, blocks: 3, status: 3 },
    { lba: 108, blocks: 20, status: 2 },
  ]);
  assert.deepEqual(
    await collect(
      scanLbaStatus({
        device,
        blocks: 128,
        blockSizeBytes: BS,
        windowBytes: 50 * BS,
        mode: 'allocation',
        allocationBytes: 8 + 16,
      }),
    ),
    [
      [0, 5, 'data'],
      [5, 105, 'unmapped'],
      [105, 108, 'data'],
      [108, 128, 'unmapped'],
    ],
  );
});

test('a device that makes no progress fails the scan with EXTENTLOG_ERR_SOURCE_CHANGE_SCAN', async () => {
  const stuck = {
    getLbaStatus32: async () => ({
      descriptors: [],
      completionCondition: 'not-reported' as const,
      rtp: false,
      truncated: false,
    }),
    getLbaStatus16: async () => ({
      descriptors: [],
      completionCondition: 'not-reported' as const,
      rtp: false,
      truncated: false,
    }),
  };
  await assert.rejects(
    collect(
      scanLbaStatus({
        device: {
          ...stuck,
          getLbaStatus32: async () => {
            throw Object.assign(new Error('x'), {});
          },
        },
        blocks: 10,
        blockSizeBytes: BS,
        mode: 'changed',
      }),
    ),
    /x/,
  );
  const sixteenOnly = new SpecLbaStatusDevice([{ lba: 0, blocks: 10, status: 0 }], {
    refuse32: true,
  });
  sixteenOnly.getLbaStatus16 = stuck.getLbaStatus16;
  await assert.rejects(
    collect(
      scanLbaStatus({ device: sixteenOnly, blocks: 10, blockSizeBytes: BS, mode: 'changed' }),
    ),
    { code: 'EXTENTLOG_ERR_SOURCE_CHANGE_SCAN' },
  );
});
