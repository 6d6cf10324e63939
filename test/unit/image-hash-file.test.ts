import assert from 'node:assert/strict';
import { test } from 'node:test';
import { chooseCycleMode, type CycleModeInput } from '../../producers/image/cycle-mode.js';
import {
  decodeHeader,
  encodeHeader,
  hashFilePaths,
  type HashFileHeader,
} from '../../producers/image/hash-file.js';

const header: HashFileHeader = {
  algorithmId: 1,
  blockSizeBytes: 4096,
  diskSizeBytes: 2 ** 40 + 512,
  digestBytes: 16,
  reference: 'hashmap:0123456789abcdef01234567',
};

test('a hash file header round-trips and rejects damage', () => {
  const bytes = encodeHeader(header);
  assert.equal(bytes.length, 128);
  assert.deepEqual(decodeHeader(bytes), header);
  const damaged = Buffer.from(bytes);
  damaged[40] = (damaged[40] ?? 0) ^ 1;
  assert.equal(decodeHeader(damaged), 'header checksum mismatch');
  assert.match(String(decodeHeader(Buffer.alloc(128))), /no hash file magic/);
  assert.throws(() => encodeHeader({ ...header, reference: 'x'.repeat(97) }), /longer than 96/);
});

test('hash file names keep any disk id inside the state directory', () => {
  assert.equal(hashFilePaths('/s', 'vm-42/scsi0:1').current, '/s/vm-42%2Fscsi0%3A1.hashmap');
  assert.equal(hashFilePaths('/s', '..').next, '/s/%2E..hashmap.next');
});

test('an incremental needs the committed reference, the same algorithm, block and disk size', () => {
  const base: CycleModeInput = {
    since: { epoch: 3, reference: header.reference },
    status: { kind: 'valid', header },
    hashFilePath: '/s/d.hashmap',
    algorithmId: 1,
    blockSizeBytes: 4096,
    diskSizeBytes: header.diskSizeBytes,
  };
  assert.deepEqual(chooseCycleMode(base), { mode: 'INCREMENTAL', base: header });
  assert.deepEqual(chooseCycleMode({ ...base, since: null }), { mode: 'FULL' });
  const reason = (input: Partial<CycleModeInput>) => {
    const choice = chooseCycleMode({ ...base, ...input });
    assert.equal(choice.mode, 'FULL');
    return choice.mode === 'FULL' ? (choice.rebaselineReason ?? '') : '';
  };
  assert.match(reason({ status: { kind: 'missing' } }), /no hash file \/s\/d\.hashmap/);
  assert.match(reason({ status: { kind: 'invalid', reason: 'torn' } }), /is unusable: torn/);
  assert.match(
    reason({ since: { epoch: 4, reference: 'hashmap:x' } }),
    /last committed cycle is hashmap:x \(epoch 4\)/,
  );
  assert.match(
    reason({ algorithmId: 2 }),
    /holds xxh3-128 digests, this source computes sha256-128/,
  );
  assert.match(
    reason({ blockSizeBytes: 512 }),
    /4096-byte blocks, this source uses 512-byte blocks/,
  );
  assert.match(reason({ diskSizeBytes: 10 }), /disk size changed from 1099511628288 to 10 bytes/);
});
