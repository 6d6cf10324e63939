/**
 * The kernel journal's record decoder against records captured from the extentlog module in
 * Debian's 6.1 kernel (test/fixtures/kjournal/records-6.1.bin: a write, a FUA write, a
 * flush, a write-zeroes, snapshot start and stop markers and an overflow record), and the
 * kjournal addon's view of the UAPI header.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { NativeError } from '../../native/errors.js';
import { addonLayout, isAvailable, openKernelJournal } from '../../native/kjournal/index.js';
import {
  decodeJournalRecords,
  JOURNAL_RECORD_BYTES,
  JOURNAL_RECORD_LAYOUT,
} from '../../native/kjournal/journal-record.js';

const fixtures = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '../../../test/fixtures/kjournal',
);

test('records captured from the kernel decode to what the module journaled', async () => {
  const records = decodeJournalRecords(await readFile(path.join(fixtures, 'records-6.1.bin')));
  assert.deepEqual(
    records.map((r) => [r.pos, r.seq, r.type, r.offsetBytes, r.lengthBytes, r.fua, r.preflush]),
    [
      [0n, 1n, 'WRITE', 9312 * 512, 112 * 512, false, false],
      [12n, 12n, 'WRITE', 9256 * 512, 32 * 512, true, false],
      [13n, 14n, 'FLUSH', 0, 0, false, true],
      [42n, 42n, 'WRITE_ZEROES', 20640 * 512, 104 * 512, false, false],
      [186n, 0n, 'SNAP_START', 0, 0, false, false],
      [1060n, 0n, 'SNAP_STOP', 0, 0, false, false],
      [63n, 0n, 'OVERFLOW', 0, 0, false, false],
    ],
  );
  const [write, , , , start, , overflow] = records;
  assert.equal(write?.issuedNs, 3951818886n);
  assert.equal(write?.completedNs, 3960317536n);
  assert.equal(write?.status, 0);
  assert.equal(start?.arg, 1n, 'the snapshot id');
  assert.equal(overflow?.arg, 537n, 'records lost');
});

test('what is not whole records of known types is refused', () => {
  assert.throws(
    () => decodeJournalRecords(Buffer.alloc(JOURNAL_RECORD_BYTES + 1)),
    (error: unknown) =>
      error instanceof NativeError && error.code === 'EXTENTLOG_ERR_NATIVE_BAD_RECORD',
  );
  const unknownType = Buffer.alloc(JOURNAL_RECORD_BYTES);
  unknownType.writeUInt16LE(99, JOURNAL_RECORD_LAYOUT.type);
  assert.throws(() => decodeJournalRecords(unknownType), /expected a type 1-8, received 99/);
});

test('the addon is built and lays out struct exl_record as the decoder reads it', () => {
  assert.equal(isAvailable(), true, 'run npm run build:native');
  const layout = addonLayout();
  assert.equal(layout.recordBytes, JOURNAL_RECORD_BYTES);
  assert.equal(layout.uapiVersion, 1);
  for (const [field, offset] of Object.entries(JOURNAL_RECORD_LAYOUT))
    assert.equal(layout[field], offset, `offsetof(struct exl_record, ${field})`);
});

test('opening something that is not a journal says what to check', async () => {
  await assert.rejects(openKernelJournal('/dev/extentlog/no-such-journal'), (error: unknown) => {
    assert.ok(error instanceof NativeError);
    assert.match(error.message, /is the extentlog module loaded/);
    return true;
  });
  await assert.rejects(openKernelJournal('/dev/null'), (error: unknown) => {
    assert.ok(error instanceof NativeError);
    assert.equal(error.details.errno, 'ENOTTY');
    assert.match(error.message, /EXL_IOC_INFO/);
    return true;
  });
});
