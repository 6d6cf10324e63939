/** READ CAPACITY(16) and the Block Limits / Logical Block Provisioning VPD pages, as tgtd sends them and as SBC-4 lays them out. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  parseBlockLimits,
  parseLogicalBlockProvisioning,
  parseReadCapacity16,
} from '../../../native/iscsi/vpd-pages.js';

const hex = (text: string) => Buffer.from(text.replace(/\s+/g, ''), 'hex');

test('READ CAPACITY(16) from tgtd: 64 MiB of 512-byte blocks, 4 KiB physical, LBPME and LBPRZ', () => {
  assert.deepEqual(
    parseReadCapacity16(
      hex(
        '00 00 00 00 00 01 ff ff 00 00 02 00 00 03 c0 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00',
      ),
    ),
    {
      blocks: 131072,
      blockSizeBytes: 512,
      sizeBytes: 64 * 1024 * 1024,
      physicalBlockSizeBytes: 4096,
      lbpme: true,
      lbprz: true,
    },
  );
});

test('Block Limits VPD page: transfer, unmap and write same limits', () => {
  const page = Buffer.alloc(64);
  hex('00 b0 00 3c').copy(page);
  page.writeUInt32BE(2048, 8); // maximum transfer length
  page.writeUInt32BE(256, 12); // optimal transfer length
  page.writeUInt32BE(0x10000, 20); // maximum unmap LBA count
  page.writeUInt32BE(64, 24); // maximum unmap block descriptor count
  page.writeUInt32BE(8, 28); // optimal unmap granularity
  page.writeBigUInt64BE(0x20000n, 36); // maximum write same length
  assert.deepEqual(parseBlockLimits(page), {
    maxTransferBlocks: 2048,
    optimalTransferBlocks: 256,
    maxUnmapBlocks: 0x10000,
    maxUnmapDescriptors: 64,
    optimalUnmapGranularityBlocks: 8,
    maxWriteSameBlocks: 0x20000,
  });
  assert.throws(() => parseBlockLimits(hex('00 b2 00 04 00 00 00 00')), /expected VPD page 0xb0/);
});

test('Logical Block Provisioning VPD page: LBPU, LBPWS, LBPRZ, provisioning type', () => {
  assert.deepEqual(parseLogicalBlockProvisioning(hex('00 b2 00 04 00 e4 02 00')), {
    lbpu: true,
    lbpws: true,
    lbprz: true,
    provisioningType: 'thin',
  });
  assert.deepEqual(parseLogicalBlockProvisioning(hex('00 b2 00 04 00 00 00 00')), {
    lbpu: false,
    lbpws: false,
    lbprz: false,
    provisioningType: 'full',
  });
});
