import assert from 'node:assert/strict';
import { appendFile, readFile, truncate } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { openTestStore } from '../../support/open-test-store.js';
import { tempDir } from '../../support/temp-dir.js';

const journal = (dataDir: string) => path.join(dataDir, 'offsets', 'commits.log');

test('committed offsets are fetched per group and topic and survive reopen', async (t) => {
  const dataDir = await tempDir(t, 'offsets');
  let store = await openTestStore(dataDir);
  await store.commitOffsets('replay-a', [
    { topic: 'extents', partition: 0, offset: 10, metadata: null },
    { topic: 'extents', partition: 1, offset: 20, metadata: 'm' },
    { topic: 'other', partition: 0, offset: 5, metadata: null },
  ]);
  await Promise.all(
    Array.from({ length: 50 }, (_, index) =>
      store.commitOffsets('replay-b', [
        { topic: 'extents', partition: 0, offset: index, metadata: null },
      ]),
    ),
  );
  await store.commitOffsets('replay-a', [
    { topic: 'extents', partition: 0, offset: 11, metadata: null },
  ]);
  assert.deepEqual(
    store
      .fetchOffsets('replay-a', ['extents'])
      .map(({ partition, offset, metadata }) => [partition, offset, metadata]),
    [
      [0, 11, null],
      [1, 20, 'm'],
    ],
  );
  assert.equal(store.fetchOffsets('replay-b')[0]?.offset, 49);
  assert.deepEqual([...store.offsetGroups()].sort(), ['replay-a', 'replay-b']);
  await store.deleteGroupOffsets('replay-b');
  assert.deepEqual(store.offsetGroups(), ['replay-a']);
  await store.close();
  store = await openTestStore(dataDir);
  assert.deepEqual(store.offsetGroups(), ['replay-a']);
  assert.equal(store.fetchOffsets('replay-a').length, 3);
  assert.ok(store.fetchOffsets('replay-a')[0]!.commitTimestampMs > 0);
});

test('the journal is compacted on open and a torn tail is dropped', async (t) => {
  const dataDir = await tempDir(t, 'offsets');
  let store = await openTestStore(dataDir);
  for (let index = 0; index < 200; index += 1)
    await store.commitOffsets('g', [
      { topic: 'extents', partition: 0, offset: index, metadata: null },
    ]);
  const before = (await readFile(journal(dataDir.path))).length;
  await store.close();
  store = await openTestStore(dataDir);
  const compacted = (await readFile(journal(dataDir.path))).length;
  assert.ok(compacted * 50 < before, `compacted ${compacted} bytes, was ${before}`);
  await store.commitOffsets('g', [{ topic: 'extents', partition: 0, offset: 500, metadata: null }]);
  await store.close();
  // A crash mid-write: the last record is cut short, then garbage follows.
  const bytes = await readFile(journal(dataDir.path));
  await truncate(journal(dataDir.path), bytes.length - 3);
  await appendFile(journal(dataDir.path), Buffer.from([0, 0, 0, 9, 1, 2]));
  store = await openTestStore(dataDir);
  assert.equal(store.fetchOffsets('g')[0]?.offset, 199);
});
