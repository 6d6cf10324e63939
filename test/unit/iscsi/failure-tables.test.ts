/** The sense and login-status tables turn numbers into messages that say what to do. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { describeLoginFailure } from '../../../native/iscsi/login-status.js';
import { describeSense } from '../../../native/iscsi/scsi-sense.js';

test('sense data: key and code named, retriable by key, unknown codes shown by number', () => {
  const invalidOpcode = describeSense({ senseKey: 5, asc: 0x20, ascq: 0 });
  assert.equal(
    invalidOpcode.text,
    'ILLEGAL REQUEST / INVALID COMMAND OPERATION CODE (sense key 0x05, ASC 0x20, ASCQ 0x00): the logical unit does not implement this command',
  );
  assert.equal(invalidOpcode.retriable, false);
  assert.equal(describeSense({ senseKey: 6, asc: 0x29, ascq: 0 }).retriable, true);
  assert.equal(describeSense({ senseKey: 7, asc: 0x27, ascq: 0x07 }).retriable, true);
  assert.match(
    describeSense({ senseKey: 3, asc: 0x77, ascq: 0x01 }).text,
    /MEDIUM ERROR \/ additional sense 0x77\/0x01/,
  );
});

test('login failures: status from libiscsi text, mutual CHAP from its own text', () => {
  assert.deepEqual(
    describeLoginFailure('Failed to log in to target. Status: Authentication failure(513)'),
    {
      status: 0x0201,
      reason: 'authentication failure',
      fix: 'check the CHAP user name and secret configured for this target',
      retriable: false,
    },
  );
  assert.equal(
    describeLoginFailure('Failed to log in to target. Status: Target not found(515)').reason,
    'target not found',
  );
  assert.equal(
    describeLoginFailure('Failed to log in to target. Status: Service unavailable(769)').retriable,
    true,
  );
  assert.match(
    describeLoginFailure('Authentication failed. Invalid CHAP_R response from the target').reason,
    /mutual CHAP failed/,
  );
});
