import assert from 'node:assert/strict';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import {
  parseTopicConfigEntries,
  StoreError,
  topicConfigEntries,
  validateTopicName,
} from '../../../log/broker/storage/index.js';
import { filledBatch } from '../../support/magic2-batch.js';
import { openTestStore } from '../../support/open-test-store.js';
import { tempDir } from '../../support/temp-dir.js';

function isStoreError(kafkaError: string, message?: RegExp) {
  return (error: unknown) =>
    error instanceof StoreError &&
    error.kafkaError === kafkaError &&
    (message === undefined || message.test(error.message));
}

test('topic names follow Kafka rules', () => {
  for (const name of ['extents', 'a.b-c_D9', 'x'.repeat(249), '.hidden'])
    assert.doesNotThrow(() => validateTopicName(name), name);
  for (const [name, reason] of [
    ['', /empty/],
    ['.', /reserved/],
    ['..', /reserved/],
    ['x'.repeat(250), /250 characters/],
    ['a/b', /outside \[a-zA-Z0-9._-\]/],
    ['naïve', /outside/],
    ['sp ace', /outside/],
  ] as const)
    assert.throws(() => validateTopicName(name), isStoreError('INVALID_TOPIC_EXCEPTION', reason));
});

test('Kafka config entries parse, validate and print back', () => {
  const parsed = parseTopicConfigEntries([
    ['retention.ms', '60000'],
    ['cleanup.policy', 'compact'],
    ['segment.bytes', '1048576'],
    ['min.insync.replicas', '1'],
    ['retention.bytes', null],
  ]);
  assert.deepEqual(parsed, { retentionMs: 60000, cleanupPolicy: 'compact', segmentBytes: 1048576 });
  assert.throws(
    () => parseTopicConfigEntries([['retention.mss', '1']]),
    isStoreError('INVALID_CONFIG', /unknown topic config retention\.mss/),
  );
  assert.throws(
    () => parseTopicConfigEntries([['retention.ms', 'soon']]),
    isStoreError('INVALID_CONFIG', /must be an integer, received 'soon'/),
  );
  assert.throws(
    () => parseTopicConfigEntries([['message.timestamp.type', 'LogAppendTime']]),
    isStoreError('INVALID_CONFIG'),
  );
  const entries = topicConfigEntries({
    retentionMs: 1,
    retentionBytes: -1,
    cleanupPolicy: 'delete',
    maxMessageBytes: 1048588,
    segmentBytes: 1024,
    segmentMs: 5,
    deleteRetentionMs: 7,
  });
  assert.equal(entries['segment.bytes'], '1024');
  assert.equal(entries['cleanup.policy'], 'delete');
});

test('topics are created, validated, grown, deleted and persist across reopen', async (t) => {
  const dataDir = await tempDir(t, 'topics');
  let store = await openTestStore(dataDir);
  const created = await store.createTopic('feed.vm-1', 2, { retentionMs: 3_600_000 });
  assert.equal(created.partitions, 2);
  assert.equal(created.config.retentionMs, 3_600_000);
  assert.equal(created.config.segmentBytes, 1024 * 1024 * 1024);
  await assert.rejects(store.createTopic('feed.vm-1', 1, {}), isStoreError('TOPIC_ALREADY_EXISTS'));
  await assert.rejects(
    store.createTopic('feed_vm-1', 1, {}),
    isStoreError('INVALID_TOPIC_EXCEPTION', /collides with existing topic feed\.vm-1/),
  );
  await assert.rejects(
    store.createTopic('bad/name', 1, {}),
    isStoreError('INVALID_TOPIC_EXCEPTION'),
  );
  await assert.rejects(store.createTopic('zero', 0, {}), isStoreError('INVALID_PARTITIONS'));
  await assert.rejects(
    store.createTopic('neg', 1, { segmentBytes: 2 }),
    isStoreError('INVALID_CONFIG', /segment\.bytes/),
  );
  await assert.rejects(store.createPartitions('feed.vm-1', 2), isStoreError('INVALID_PARTITIONS'));
  await assert.rejects(
    store.createPartitions('missing', 3),
    isStoreError('UNKNOWN_TOPIC_OR_PARTITION'),
  );
  assert.equal(store.topic('zero'), undefined);

  const grown = await store.createPartitions('feed.vm-1', 4);
  assert.equal(grown.partitions, 4);
  const log = store.partition('feed.vm-1', 3);
  assert.ok(log);
  await log.append(filledBatch(1, 2, 10), { durable: true });
  await store.createTopic('doomed', 1, {});
  await store.partition('doomed', 0)?.append(filledBatch(2, 1, 10), { durable: true });
  await store.commitOffsets('group-a', [
    { topic: 'doomed', partition: 0, offset: 1, metadata: null },
  ]);
  await store.deleteTopic('doomed');
  assert.equal(store.partition('doomed', 0), undefined);
  assert.deepEqual(store.fetchOffsets('group-a'), []);
  await assert.rejects(store.deleteTopic('doomed'), isStoreError('UNKNOWN_TOPIC_OR_PARTITION'));
  await store.close();

  store = await openTestStore(dataDir);
  assert.deepEqual(
    store.topics().map((topic) => [topic.name, topic.partitions, topic.config.retentionMs]),
    [['feed.vm-1', 4, 3_600_000]],
  );
  assert.equal(store.partition('feed.vm-1', 3)?.highWatermark(), 2);
  assert.deepEqual(await readdir(path.join(dataDir.path, 'deleting')), []);
  const recreated = await store.createTopic('doomed', 1, {});
  assert.equal(recreated.partitions, 1);
  assert.equal(store.partition('doomed', 0)?.highWatermark(), 0);
});

test('a second open of the same data directory is refused', async (t) => {
  const dataDir = await tempDir(t, 'topics');
  await openTestStore(dataDir);
  await assert.rejects(openTestStore(dataDir), isStoreError('KAFKA_STORAGE_ERROR', /already open/));
});

test('half-created, half-deleted and half-grown topics left by a crash are cleared on open', async (t) => {
  const dataDir = await tempDir(t, 'topics');
  let store = await openTestStore(dataDir);
  await store.createTopic('kept', 2, {});
  await store.close();
  await mkdir(path.join(dataDir.path, 'staging', 'half-created', '0'), { recursive: true });
  await mkdir(path.join(dataDir.path, 'deleting', 'gone.1234', '0'), { recursive: true });
  await mkdir(path.join(dataDir.path, 'topics', 'kept', '2'));
  await writeFile(path.join(dataDir.path, 'topics', 'kept', '2', '00000000000000000000.log'), 'x');
  store = await openTestStore(dataDir);
  assert.deepEqual(await readdir(path.join(dataDir.path, 'staging')), []);
  assert.deepEqual(await readdir(path.join(dataDir.path, 'deleting')), []);
  assert.deepEqual((await readdir(path.join(dataDir.path, 'topics', 'kept'))).sort(), [
    '0',
    '1',
    'topic.json',
  ]);
  assert.equal(store.topic('kept')?.partitions, 2);
  const grown = await store.createPartitions('kept', 3);
  assert.equal(grown.partitions, 3);
  assert.equal(store.partition('kept', 2)?.highWatermark(), 0);
});
