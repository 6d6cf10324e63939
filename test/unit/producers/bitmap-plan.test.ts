import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  bitmapReference,
  parseBitmapReference,
  planCycle,
  type BitmapState,
} from '../../../producers/qemu/bitmap-plan.js';

const SIZE = 1 << 30;
const bitmap = (name: string, overrides: Partial<BitmapState> = {}): BitmapState => ({
  name,
  granularityBytes: 65536,
  recording: true,
  inconsistent: false,
  ...overrides,
});
const since = (name: string, sizeBytes = SIZE) => ({
  epoch: 4,
  reference: bitmapReference(name, sizeBytes),
});
const plan = (input: Partial<Parameters<typeof planCycle>[0]>) =>
  planCycle({ since: null, bitmaps: [], sizeBytes: SIZE, where: 'image a.qcow2', ...input });

test('references round-trip and reject what is not ours', () => {
  assert.deepEqual(parseBitmapReference(bitmapReference('extentlog-abc-1', 42)), {
    bitmap: 'extentlog-abc-1',
    sizeBytes: 42,
  });
  assert.equal(parseBitmapReference('hashmap:0011'), null);
  assert.equal(parseBitmapReference('qemu-bitmap:other@5'), null);
});

test('no committed reference: FULL without a re-baseline reason', () => {
  const result = plan({ bitmaps: [bitmap('extentlog-a'), bitmap('user-bitmap')] });
  assert.equal(result.mode, 'FULL');
  assert.equal(result.rebaselineReason, undefined);
  assert.deepEqual(result.remove, []);
});

test('the committed bitmap recording: INCREMENTAL; other bitmaps of ours are removed, others kept', () => {
  const result = plan({
    since: since('extentlog-a'),
    bitmaps: [bitmap('extentlog-a'), bitmap('extentlog-stale'), bitmap('backup-tool')],
  });
  assert.equal(result.mode, 'INCREMENTAL');
  assert.equal(result.base, 'extentlog-a');
  assert.deepEqual(result.remove, ['extentlog-stale']);
});

for (const [what, input, reason] of [
  [
    'missing',
    { bitmaps: [bitmap('extentlog-b')] },
    /extentlog-a of epoch 4 is gone from image a\.qcow2/,
  ],
  [
    'inconsistent',
    { bitmaps: [bitmap('extentlog-a', { inconsistent: true })] },
    /marked inconsistent/,
  ],
  [
    'disabled, nothing recording',
    { bitmaps: [bitmap('extentlog-a', { recording: false })] },
    /stopped recording/,
  ],
  [
    'on a shrunk disk',
    { bitmaps: [bitmap('extentlog-a')], sizeBytes: SIZE / 2 },
    /shrank from 1073741824 to 536870912/,
  ],
] as const) {
  test(`the committed bitmap ${what}: a FULL re-baseline that says why`, () => {
    const result = plan({ since: since('extentlog-a'), ...input });
    assert.equal(result.mode, 'FULL');
    assert.match(result.rebaselineReason ?? '', reason);
    assert.match(result.rebaselineReason ?? '', /; reading the whole disk$/);
  });
}

test('a reference of another source: a FULL re-baseline', () => {
  const result = plan({ since: { epoch: 2, reference: 'hashmap:12' } });
  assert.match(
    result.rebaselineReason ?? '',
    /'hashmap:12' \(epoch 2\) is not a QEMU dirty bitmap/,
  );
});

test('frozen by an interrupted cycle: the bitmaps recording since are merged back', () => {
  const result = plan({
    since: since('extentlog-a'),
    bitmaps: [
      bitmap('extentlog-a', { recording: false }),
      bitmap('extentlog-b'),
      bitmap('extentlog-bad', { inconsistent: true }),
    ],
  });
  assert.equal(result.mode, 'INCREMENTAL');
  assert.deepEqual(result.mergeIntoBase, ['extentlog-b']);
  assert.deepEqual(result.remove, ['extentlog-bad', 'extentlog-b']);
});

test('a grown disk stays INCREMENTAL (the bitmap grows with it)', () => {
  const result = plan({ since: since('extentlog-a', SIZE / 2), bitmaps: [bitmap('extentlog-a')] });
  assert.equal(result.mode, 'INCREMENTAL');
});
