/**
 * The Extended CDB AHS rewriter against PDUs built from RFC 7143 §11.3 (SCSI Command BHS) and
 * §11.2.1.3 (AHSLength = CDB length − 15, AHSType 1), fed in arbitrary pieces.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  ExtendedCdbRewriter,
  extendedCdbAhs,
  taggedHead,
} from '../../../native/iscsi/extended-cdb-rewriter.js';
import { getLbaStatus32Cdb } from '../../../native/iscsi/lba-status.js';

function bhs(opcode: number, cdb: Buffer | null, dataSegmentBytes: number): Buffer {
  const header = Buffer.alloc(48);
  header[0] = opcode;
  header[1] = 0x80;
  header.writeUIntBE(dataSegmentBytes, 5, 3);
  header.writeUInt32BE(0x11223344, 16); // initiator task tag
  cdb?.copy(header, 32, 0, 16);
  return header;
}

function feed(rewriter: ExtendedCdbRewriter, stream: Buffer, pieceBytes: number): Buffer {
  const out: Buffer[] = [];
  for (let at = 0; at < stream.length; at += pieceBytes)
    out.push(...rewriter.push(stream.subarray(at, at + pieceBytes)));
  return Buffer.concat(out);
}

test('the Extended CDB AHS of a 32-byte CDB: length 17, type 1, bytes 16–31', () => {
  const cdb = Buffer.from(Array.from({ length: 32 }, (_, index) => index));
  const ahs = extendedCdbAhs(cdb);
  assert.deepEqual(ahs.subarray(0, 4), Buffer.from([0x00, 0x11, 0x01, 0x00]));
  assert.deepEqual(ahs.subarray(4), cdb.subarray(16));
  assert.equal(ahs.length, 20);
});

test('a tagged SCSI Command PDU gets its CDB back and the AHS; other PDUs pass unchanged', () => {
  const cdb = getLbaStatus32Cdb({
    lba: 0x12345678,
    scanLengthBlocks: 2048,
    allocationBytes: 4096,
    reportType: 1,
  });
  const tag = 0xcafe0001;
  const cdbs = new Map([[tag, cdb]]);
  const login = Buffer.concat([bhs(0x43, null, 6), Buffer.from('abcdef\0\0')]);
  const command = bhs(0x01, taggedHead(cdb, tag), 0);
  const dataOut = Buffer.concat([bhs(0x05, null, 5), Buffer.from([1, 2, 3, 4, 5, 0, 0, 0])]);
  const unrelated = bhs(0x01, Buffer.from('2a000000000000000800000000000000', 'hex'), 0);
  const stream = Buffer.concat([login, command, dataOut, unrelated]);

  const expectedCommand = Buffer.from(command);
  expectedCommand[4] = 5; // TotalAHSLength: 20 bytes
  cdb.copy(expectedCommand, 32, 0, 16);
  const expected = Buffer.concat([login, expectedCommand, extendedCdbAhs(cdb), dataOut, unrelated]);

  for (const pieceBytes of [1, 7, 48, 1000]) {
    const rewriter = new ExtendedCdbRewriter((found) => cdbs.get(found));
    assert.deepEqual(feed(rewriter, stream, pieceBytes), expected, `in pieces of ${pieceBytes}`);
  }
});

test('an unknown tag is forwarded as is', () => {
  const cdb = getLbaStatus32Cdb({ lba: 1, scanLengthBlocks: 1, allocationBytes: 64 });
  const command = bhs(0x01, taggedHead(cdb, 7), 0);
  const rewriter = new ExtendedCdbRewriter(() => undefined);
  assert.deepEqual(feed(rewriter, command, 13), command);
});
