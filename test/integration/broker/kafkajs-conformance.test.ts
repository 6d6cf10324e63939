/**
 * The embedded broker driven by kafkajs 2.2.4 (an independent Kafka client): idempotent
 * gzip produce, a two-member consumer group that rebalances, and the admin API.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { CompressionTypes, Kafka, logLevel, type Consumer } from 'kafkajs';
import { startTestBroker } from '../../support/test-broker.js';
import { eventually } from '../../support/eventually.js';

process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1';

const broker = await startTestBroker(after);
const kafka = new Kafka({
  brokers: [broker.address],
  clientId: 'conformance',
  logLevel: logLevel.NOTHING,
});

test('an idempotent gzip producer writes records a consumer reads back in order', async (t) => {
  const admin = kafka.admin();
  await admin.connect();
  t.after(() => admin.disconnect());
  await admin.createTopics({ topics: [{ topic: 'orders', numPartitions: 1 }] });
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  t.after(() => producer.disconnect());
  const sent: string[] = [];
  for (let batch = 0; batch < 10; batch++) {
    const messages = Array.from({ length: 20 }, (_, i) => ({
      key: `k${i % 3}`,
      value: `order-${batch}-${i}-${'x'.repeat(i * 10)}`,
      headers: { batch: String(batch) },
    }));
    sent.push(...messages.map((message) => message.value));
    const [result] = await producer.send({
      topic: 'orders',
      acks: -1,
      compression: CompressionTypes.GZIP,
      messages,
    });
    assert.equal(result?.errorCode, 0);
    assert.equal(result?.baseOffset, String(batch * 20));
  }
  const offsets = await admin.fetchTopicOffsets('orders');
  assert.deepEqual(
    offsets.map((o) => [o.partition, o.low, o.high]),
    [[0, '0', '200']],
  );

  const consumer = kafka.consumer({ groupId: 'orders-reader', maxWaitTimeInMs: 200 });
  await consumer.connect();
  t.after(() => consumer.disconnect());
  await consumer.subscribe({ topic: 'orders', fromBeginning: true });
  const received: { offset: string; value: string; batch: string }[] = [];
  await consumer.run({
    eachMessage: async ({ message }) => {
      received.push({
        offset: message.offset,
        value: message.value?.toString() ?? '',
        batch: message.headers?.batch?.toString() ?? '',
      });
    },
  });
  await eventually('all records consumed', () => (received.length >= 200 ? true : undefined));
  assert.deepEqual(
    received.map((r) => r.value),
    sent,
  );
  assert.deepEqual(
    received.map((r) => Number(r.offset)),
    sent.map((_, i) => i),
  );
  assert.equal(received[25]?.batch, '1');
});

test('a two-member group shares partitions and the survivor takes all when one leaves', async (t) => {
  const admin = kafka.admin();
  await admin.connect();
  t.after(() => admin.disconnect());
  await admin.createTopics({ topics: [{ topic: 'shared', numPartitions: 4 }] });
  const assignments = new Map<Consumer, number[]>();
  const start = async () => {
    const consumer = kafka.consumer({
      groupId: 'sharing',
      heartbeatInterval: 200,
      sessionTimeout: 6000,
      rebalanceTimeout: 10_000,
      maxWaitTimeInMs: 200,
    });
    consumer.on(consumer.events.GROUP_JOIN, (event) => {
      assignments.set(consumer, event.payload.memberAssignment.shared ?? []);
    });
    await consumer.connect();
    await consumer.subscribe({ topic: 'shared', fromBeginning: true });
    await consumer.run({ eachMessage: async () => {} });
    return consumer;
  };
  const first = await start();
  t.after(() => first.disconnect());
  await eventually('first member owns all partitions', () =>
    assignments.get(first)?.length === 4 ? true : undefined,
  );
  const second = await start();
  const secondDisconnected = { done: false };
  t.after(() => (secondDisconnected.done ? undefined : second.disconnect()));
  const split = await eventually('both members own partitions', () => {
    const a = assignments.get(first) ?? [];
    const b = assignments.get(second) ?? [];
    return a.length > 0 && b.length > 0 && a.length + b.length === 4 ? { a, b } : undefined;
  });
  assert.deepEqual([...split.a, ...split.b].sort(), [0, 1, 2, 3]);

  const described = await admin.describeGroups(['sharing']);
  assert.equal(described.groups[0]?.state, 'Stable');
  assert.equal(described.groups[0]?.members.length, 2);
  assert.ok((await admin.listGroups()).groups.some((group) => group.groupId === 'sharing'));

  await second.disconnect();
  secondDisconnected.done = true;
  await eventually('survivor owns all partitions', () =>
    assignments.get(first)?.length === 4 ? true : undefined,
  );
  assert.deepEqual([...(assignments.get(first) ?? [])].sort(), [0, 1, 2, 3]);
});

test('admin: topics, partitions, configs, offsets by timestamp, group offsets', async (t) => {
  const admin = kafka.admin();
  await admin.connect();
  t.after(() => admin.disconnect());
  await admin.createTopics({
    topics: [
      {
        topic: 'feed.extents',
        numPartitions: 2,
        configEntries: [
          { name: 'retention.ms', value: '-1' },
          { name: 'cleanup.policy', value: 'delete' },
        ],
      },
    ],
  });
  assert.ok((await admin.listTopics()).includes('feed.extents'));
  await assert.rejects(
    admin.createTopics({
      topics: [{ topic: 'bad', configEntries: [{ name: 'no.such', value: '1' }] }],
    }),
    (error: { errors?: { type: string }[] }) => error.errors?.[0]?.type === 'INVALID_CONFIG',
  );
  await assert.rejects(
    admin.createTopics({ topics: [{ topic: 'replicated', replicationFactor: 3 }] }),
    (error: { errors?: { type: string }[] }) =>
      error.errors?.[0]?.type === 'INVALID_REPLICATION_FACTOR',
  );
  assert.equal(await admin.createTopics({ topics: [{ topic: 'feed.extents' }] }), false);

  await admin.createPartitions({ topicPartitions: [{ topic: 'feed.extents', count: 3 }] });
  const metadata = await admin.fetchTopicMetadata({ topics: ['feed.extents'] });
  assert.equal(metadata.topics[0]?.partitions.length, 3);

  const configs = await admin.describeConfigs({
    resources: [{ type: 2, name: 'feed.extents', configNames: ['retention.ms', 'cleanup.policy'] }],
    includeSynonyms: false,
  });
  const entries = configs.resources[0]?.configEntries ?? [];
  assert.deepEqual(entries.map((e) => [e.configName, e.configValue]).sort(), [
    ['cleanup.policy', 'delete'],
    ['retention.ms', '-1'],
  ]);

  const producer = kafka.producer();
  await producer.connect();
  t.after(() => producer.disconnect());
  const before = Date.now();
  await producer.send({
    topic: 'feed.extents',
    messages: [
      { partition: 1, value: 'old', timestamp: String(before - 60_000) },
      { partition: 1, value: 'new', timestamp: String(before + 60_000) },
    ],
  });
  const byTime = await admin.fetchTopicOffsetsByTimestamp('feed.extents', before);
  assert.equal(byTime.find((p) => p.partition === 1)?.offset, '0');

  await admin.setOffsets({
    groupId: 'restorer',
    topic: 'feed.extents',
    partitions: [{ partition: 1, offset: '2' }],
  });
  const committed = await admin.fetchOffsets({ groupId: 'restorer', topics: ['feed.extents'] });
  assert.equal(committed[0]?.partitions.find((p) => p.partition === 1)?.offset, '2');
  assert.equal(committed[0]?.partitions.find((p) => p.partition === 0)?.offset, '-1');
  assert.ok((await admin.listGroups()).groups.some((group) => group.groupId === 'restorer'));
  await admin.deleteGroups(['restorer']);
  assert.ok(!(await admin.listGroups()).groups.some((group) => group.groupId === 'restorer'));

  await admin.deleteTopics({ topics: ['feed.extents'] });
  assert.ok(!(await admin.listTopics()).includes('feed.extents'));
});
