import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import type { PartitionLog } from '../../../log/broker/storage/index.js';
import { buildBatch, parseBatches, type ParsedRecord } from '../../support/magic2-batch.js';
import { openTestStore } from '../../support/open-test-store.js';
import { tempDir } from '../../support/temp-dir.js';

const DAY_MS = 86_400_000;

interface Produced {
  readonly offset: number;
  readonly key: string;
  readonly value: string | null;
  readonly timestampMs: number;
}

async function readRecords(log: PartitionLog): Promise<ParsedRecord[]> {
  const records: ParsedRecord[] = [];
  let offset = log.logStartOffset();
  while (offset < log.highWatermark()) {
    const read = await log.read(offset, 4096);
    const batches = parseBatches(read.records);
    assert.ok(batches.length > 0);
    for (const batch of batches) {
      assert.ok(batch.crcValid, `batch ${batch.baseOffset} has a valid CRC`);
      records.push(...batch.records.filter((record) => record.offset >= offset));
      offset = batch.lastOffset + 1;
    }
  }
  return records;
}

const view = (record: ParsedRecord) => [
  record.offset,
  record.key?.toString() ?? null,
  record.value?.toString() ?? null,
];

test('compaction keeps the latest record per key with its offset and drops old tombstones', async (t) => {
  const dataDir = await tempDir(t, 'compaction');
  let store = await openTestStore(dataDir);
  await store.createTopic('restore-points', 1, {
    cleanupPolicy: 'compact',
    segmentBytes: 300,
    deleteRetentionMs: DAY_MS,
  });
  let log = store.partition('restore-points', 0)!;
  const now = Date.now();
  const produced: Produced[] = [];
  for (let round = 0; round < 12; round += 1) {
    const records: Omit<Produced, 'offset'>[] = Array.from({ length: 4 }, (_, index) => {
      const key = `disk-${(round * 4 + index) % 6}`;
      return { key, value: `${key}@${round}`, timestampMs: now };
    });
    // Keys written once and then deleted: one tombstone past delete.retention.ms, one young.
    if (round === 0)
      records.push(
        { key: 'gone-old', value: 'v', timestampMs: now },
        { key: 'gone-young', value: 'v', timestampMs: now },
      );
    if (round === 5)
      records.push(
        { key: 'gone-old', value: null, timestampMs: now - 2 * DAY_MS },
        { key: 'gone-young', value: null, timestampMs: now },
      );
    const batch = buildBatch({
      records: records.map((record) => ({
        key: Buffer.from(record.key),
        value: record.value === null ? null : Buffer.from(record.value),
        timestampDeltaMs: record.timestampMs - (now - 2 * DAY_MS),
      })),
      baseTimestampMs: now - 2 * DAY_MS,
      compression: round % 3 === 0 ? 'gzip' : 'none',
    });
    const { baseOffset } = await log.append(batch, { durable: true });
    records.forEach((record, index) => produced.push({ offset: baseOffset + index, ...record }));
  }
  await store.close();
  store = await openTestStore(dataDir);
  log = store.partition('restore-points', 0)!;
  const logs = (await readdir(path.join(dataDir.path, 'topics', 'restore-points', '0')))
    .filter((name) => name.endsWith('.log'))
    .sort();
  assert.ok(logs.length >= 4, 'the log spans several segments');
  const activeBase = Number(logs.at(-1)!.slice(0, 20));
  const before = await readRecords(log);
  assert.deepEqual(
    before.map(view),
    produced.map((record) => [record.offset, record.key, record.value]),
  );

  // Reads continue while compaction runs.
  let done = false;
  const reads = (async () => {
    let passes = 0;
    while (!done || passes === 0) {
      const seen = await readRecords(log);
      for (const record of seen) {
        const original = produced[record.offset];
        assert.deepEqual(view(record), [original?.offset, original?.key, original?.value]);
      }
      passes += 1;
    }
    return passes;
  })();
  await store.enforceRetention(now);
  done = true;
  assert.ok((await reads) > 0);

  const settled = produced.filter((record) => record.offset < activeBase);
  const latest = new Map(settled.map((record) => [record.key, record.offset]));
  const expected = produced.filter((record) => {
    if (record.offset >= activeBase) return true;
    if (latest.get(record.key) !== record.offset) return false;
    return record.value !== null || record.timestampMs >= now - DAY_MS;
  });
  assert.ok(
    expected.some((record) => record.value === null),
    'a young tombstone stays',
  );
  assert.ok(expected.length < produced.length / 2);
  const after = await readRecords(log);
  assert.deepEqual(
    after.map(view),
    expected.map((record) => [record.offset, record.key, record.value]),
  );
  assert.equal(log.highWatermark(), produced.length);

  // Compacted segments reopen as they are, and the next append follows the old end.
  await store.close();
  store = await openTestStore(dataDir);
  log = store.partition('restore-points', 0)!;
  assert.deepEqual((await readRecords(log)).map(view), after.map(view));
  const next = buildBatch({
    records: [{ key: Buffer.from('disk-0'), value: Buffer.from('last') }],
  });
  assert.equal((await log.append(next, { durable: true })).baseOffset, produced.length);
});
