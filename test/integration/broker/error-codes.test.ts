/**
 * Each API answers failures with the Kafka error code a client acts on. Requests are
 * encoded and responses decoded by kafkajs's protocol layer, bypassing its retries.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { connectWire } from '../../support/kafkajs-wire.js';
import { startTestBroker } from '../../support/test-broker.js';

const broker = await startTestBroker(after, { autoCreateTopics: false });
const wire = await connectWire(broker.host, broker.port);
after(() => wire.close());
await broker.store.createTopic('known', 1, {});

interface TopicErrors {
  topicErrors?: { topic: string; errorCode: number }[];
}

test('topic and partition lookups report UNKNOWN_TOPIC_OR_PARTITION (3)', async () => {
  const metadata = await wire.send<{ topicMetadata: { topic: string; topicErrorCode: number }[] }>(
    'Metadata',
    4,
    { topics: ['missing'], allowAutoTopicCreation: true },
  );
  assert.deepEqual(
    metadata.topicMetadata.map((t) => [t.topic, t.topicErrorCode]),
    [['missing', 3]],
  );

  const produce = await wire.send<{ topics: { partitions: { errorCode: number }[] }[] }>(
    'Produce',
    7,
    {
      acks: -1,
      timeout: 1000,
      topicData: [{ topic: 'known', partitions: [{ partition: 5, messages: [{ value: 'x' }] }] }],
    },
  );
  assert.equal(produce.topics[0]?.partitions[0]?.errorCode, 3);

  const fetch = await wire.send<{ responses: { partitions: { errorCode: number }[] }[] }>(
    'Fetch',
    11,
    {
      replicaId: -1,
      maxWaitTime: 10,
      minBytes: 1,
      maxBytes: 1024,
      topics: [
        { topic: 'missing', partitions: [{ partition: 0, fetchOffset: '0', maxBytes: 1024 }] },
      ],
    },
  );
  assert.equal(fetch.responses[0]?.partitions[0]?.errorCode, 3);

  const listOffsets = await wire.send<{ responses: { partitions: { errorCode: number }[] }[] }>(
    'ListOffsets',
    2,
    {
      topics: [{ topic: 'missing', partitions: [{ partition: 0, timestamp: -1 }] }],
    },
  );
  assert.equal(listOffsets.responses[0]?.partitions[0]?.errorCode, 3);
});

test('fetching past the high watermark reports OFFSET_OUT_OF_RANGE (1)', async () => {
  const fetch = await wire.send<{
    responses: { partitions: { errorCode: number; highWatermark: string }[] }[];
  }>('Fetch', 4, {
    replicaId: -1,
    maxWaitTime: 10,
    minBytes: 1,
    maxBytes: 1024,
    topics: [{ topic: 'known', partitions: [{ partition: 0, fetchOffset: '99', maxBytes: 1024 }] }],
  });
  assert.equal(fetch.responses[0]?.partitions[0]?.errorCode, 1);
});

test('topic administration reports Kafka errors', async () => {
  const created = await wire.send<TopicErrors>('CreateTopics', 3, {
    topics: [
      { topic: 'known' },
      { topic: 'bad/name' },
      { topic: 'three-copies', replicationFactor: 3 },
      { topic: 'odd-config', configEntries: [{ name: 'unknown.setting', value: '1' }] },
      { topic: 'zero', numPartitions: 0 },
      { topic: 'validated', numPartitions: 2 },
    ],
    validateOnly: true,
    timeout: 1000,
  });
  assert.deepEqual(created.topicErrors?.map((t) => [t.topic, t.errorCode]).sort(), [
    ['bad/name', 17],
    ['known', 36],
    ['odd-config', 40],
    ['three-copies', 38],
    ['validated', 0],
    ['zero', 37],
  ]);
  assert.equal(broker.store.topic('validated'), undefined, 'validate_only creates nothing');

  const deleted = await wire.send<{ topicErrors: { topic: string; errorCode: number }[] }>(
    'DeleteTopics',
    1,
    {
      topics: ['missing'],
      timeout: 1000,
    },
  );
  assert.equal(deleted.topicErrors[0]?.errorCode, 3);

  const grown = await wire.send<{ topicErrors: { topic: string; errorCode: number }[] }>(
    'CreatePartitions',
    1,
    {
      topicPartitions: [
        { topic: 'known', count: 1 },
        { topic: 'missing', count: 4 },
      ],
      timeout: 1000,
      validateOnly: false,
    },
  );
  assert.deepEqual(
    grown.topicErrors.map((t) => [t.topic, t.errorCode]),
    [
      ['known', 37],
      ['missing', 3],
    ],
  );

  const configs = await wire.send<{ resources: { errorCode: number }[] }>('DescribeConfigs', 2, {
    resources: [{ type: 2, name: 'missing' }],
    includeSynonyms: false,
  });
  assert.equal(configs.resources[0]?.errorCode, 3);
});

test('group APIs report membership errors', async () => {
  const join = await wire.send<{ errorCode: number }>('JoinGroup', 5, {
    groupId: 'g',
    sessionTimeout: 10_000,
    rebalanceTimeout: 10_000,
    memberId: 'ghost',
    protocolType: 'consumer',
    groupProtocols: [{ name: 'range', metadata: Buffer.alloc(0) }],
  });
  assert.equal(join.errorCode, 25);
  const heartbeat = await wire.send<{ errorCode: number }>('Heartbeat', 3, {
    groupId: 'g',
    groupGenerationId: 1,
    memberId: 'ghost',
  });
  assert.equal(heartbeat.errorCode, 25);
  const commit = await wire.send<{ responses: { partitions: { errorCode: number }[] }[] }>(
    'OffsetCommit',
    5,
    {
      groupId: 'g',
      groupGenerationId: 3,
      memberId: 'ghost',
      topics: [{ topic: 'known', partitions: [{ partition: 0, offset: '1' }] }],
    },
  );
  assert.equal(commit.responses[0]?.partitions[0]?.errorCode, 22);
  const deleted = await wire.send<{ results: { groupId: string; errorCode: number }[] }>(
    'DeleteGroups',
    1,
    ['nobody'],
  );
  assert.equal(deleted.results[0]?.errorCode, 69);
});

test('SASL and transactions are refused where the broker does not offer them', async () => {
  const handshake = await wire.send<{ errorCode: number }>('SaslHandshake', 1, {
    mechanism: 'PLAIN',
  });
  assert.equal(handshake.errorCode, 34);
  const transactional = await wire.send<{ errorCode: number }>('InitProducerId', 1, {
    transactionalId: 'tx',
    transactionTimeout: 1000,
  });
  assert.notEqual(transactional.errorCode, 0);
  const idempotent = await wire.send<{ errorCode: number; producerId: string }>(
    'InitProducerId',
    1,
    {
      transactionTimeout: 1000,
    },
  );
  assert.equal(idempotent.errorCode, 0);
  assert.ok(Number(idempotent.producerId) >= 0);
});
