/**
 * GET LBA STATUS CDBs and parameter data against byte fixtures written from SBC-4 (§5.8, §5.9:
 * field positions, service action 0x12, additional CDB length 0x18) and SPC-5 §4.2.3 (the
 * variable-length CDB), and one response captured from tgtd.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  getLbaStatus16Cdb,
  getLbaStatus32Cdb,
  parseLbaStatus,
} from '../../../native/iscsi/lba-status.js';

const hex = (text: string) => Buffer.from(text.replace(/\s+/g, ''), 'hex');

test('GET LBA STATUS(32): 0x7F, additional length 0x18, service action 0x0012, fields in place', () => {
  const cdb = getLbaStatus32Cdb({
    lba: 0x0001_0203_0405_0607,
    scanLengthBlocks: 0x0020_0000,
    allocationBytes: 0x1000,
    reportType: 1,
    elementId: 0x0a0b0c0d,
  });
  assert.deepEqual(
    cdb,
    hex(`
      7f 00 00 00 00 00 00 18   00 12 01 00 00 01 02 03
      04 05 06 07 00 20 00 00   0a 0b 0c 0d 00 00 10 00`),
  );
  assert.equal(cdb.length, 32);
});

test('GET LBA STATUS(16): SERVICE ACTION IN(16) 0x9E / 0x12, report type in byte 14', () => {
  assert.deepEqual(
    getLbaStatus16Cdb({ lba: 0x1000, allocationBytes: 0x208 }),
    hex('9e 12 00 00 00 00 00 00 10 00 00 00 02 08 00 00'),
  );
  assert.deepEqual(
    getLbaStatus16Cdb({ lba: 0, allocationBytes: 24, reportType: 2 }),
    hex('9e 12 00 00 00 00 00 00 00 00 00 00 00 18 02 00'),
  );
});

test('CDB fields out of range are refused', () => {
  assert.throws(
    () => getLbaStatus32Cdb({ lba: 0, scanLengthBlocks: 2 ** 32, allocationBytes: 64 }),
    /scanLengthBlocks must be an integer from 0 to 4294967295/,
  );
  assert.throws(
    () => getLbaStatus16Cdb({ lba: -1, allocationBytes: 64 }),
    /lba must be an integer/,
  );
});

test('parameter data: descriptors, completion condition (byte 7 bits 3:1) and RTP (bit 0)', () => {
  const report = parseLbaStatus(
    hex(`
      00 00 00 24 00 00 00 05
      00 00 00 00 00 00 10 00   00 00 00 80 03 00 00 00
      00 00 00 00 00 00 20 00   00 00 01 00 03 01 00 00`),
  );
  assert.deepEqual(report, {
    descriptors: [
      { lba: 0x1000, blocks: 0x80, provisioningStatus: 3, additionalStatus: 0 },
      { lba: 0x2000, blocks: 0x100, provisioningStatus: 3, additionalStatus: 1 },
    ],
    completionCondition: 'scan-length',
    rtp: true,
    truncated: false,
  });
  const conditions = [0, 2, 4, 6, 8].map(
    (flags) =>
      parseLbaStatus(hex(`00 00 00 04 00 00 00 ${flags.toString(16).padStart(2, '0')}`))
        .completionCondition,
  );
  assert.deepEqual(conditions, [
    'not-reported',
    'allocation-length',
    'scan-length',
    'capacity',
    'reserved',
  ]);
});

test('parameter data longer than the allocation length is marked truncated', () => {
  // The target had 3 descriptors (length 0x34) but only 2 fit.
  const report = parseLbaStatus(
    hex(`
      00 00 00 34 00 00 00 02
      00 00 00 00 00 00 00 00   00 00 00 10 01 00 00 00
      00 00 00 00 00 00 00 10   00 00 00 10 00 00 00 00`),
  );
  assert.equal(report.descriptors.length, 2);
  assert.equal(report.truncated, true);
  assert.equal(report.completionCondition, 'allocation-length');
});

test('a response captured from tgtd (GET LBA STATUS(16) over a sparse file)', () => {
  const report = parseLbaStatus(
    hex(`
      00 00 00 54 00 00 00 00
      00 00 00 00 00 00 00 00   00 00 08 00 01 00 00 00
      00 00 00 00 00 00 08 00   00 00 08 00 00 00 00 00
      00 00 00 00 00 00 10 00   00 00 08 00 01 00 00 00
      00 00 00 00 00 00 18 00   00 00 e8 00 00 00 00 00
      00 00 00 00 00 01 00 00   00 01 00 00 01 00 00 00`),
  );
  assert.deepEqual(
    report.descriptors.map(({ lba, blocks, provisioningStatus }) => [
      lba,
      blocks,
      provisioningStatus,
    ]),
    [
      [0, 2048, 1],
      [2048, 2048, 0],
      [4096, 2048, 1],
      [6144, 59392, 0],
      [65536, 65536, 1],
    ],
  );
  assert.equal(report.completionCondition, 'not-reported');
});

test('parameter data shorter than its header is an EXTENTLOG_ERR_NATIVE_ISCSI_RESPONSE', () => {
  assert.throws(() => parseLbaStatus(hex('00 00 00')), {
    code: 'EXTENTLOG_ERR_NATIVE_ISCSI_RESPONSE',
  });
});
