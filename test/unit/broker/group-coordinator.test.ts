import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { silentLogger } from '../../../log/broker/broker-logger.js';
import { GroupCoordinator } from '../../../log/broker/groups/group-coordinator.js';
import { errorCode } from '../../../log/broker/protocol/error-codes.js';
import type { JoinGroupRequest } from '../../../log/broker/protocol/join-group.js';
import { openBrokerStore } from '../../../log/broker/storage/broker-store.js';
import { eventually } from '../../support/eventually.js';
import { tempDir } from '../../support/temp-dir.js';

const client = { clientId: 'unit', clientHost: '/127.0.0.1' };

async function setUp(t: TestContext, initialRebalanceDelayMs = 0) {
  const dir = await tempDir(t, 'groups');
  const store = await openBrokerStore({ dataDir: dir.path });
  dir.beforeRemoval(() => store.close());
  await store.createTopic('feed', 2, {});
  const coordinator = new GroupCoordinator({
    store,
    logger: silentLogger,
    initialRebalanceDelayMs,
    minSessionTimeoutMs: 10,
    maxSessionTimeoutMs: 60_000,
  });
  dir.beforeRemoval(() => coordinator.close());
  return { store, coordinator };
}

function joinRequest(overrides: Partial<JoinGroupRequest> = {}): JoinGroupRequest {
  return {
    groupId: 'g',
    sessionTimeoutMs: 10_000,
    rebalanceTimeoutMs: 10_000,
    memberId: '',
    groupInstanceId: null,
    protocolType: 'consumer',
    protocols: [{ name: 'range', metadata: Buffer.from('m') }],
    ...overrides,
  };
}

/** JoinGroup v5 the way clients do it: MEMBER_ID_REQUIRED first, then with the id. */
async function joinNew(coordinator: GroupCoordinator, overrides: Partial<JoinGroupRequest> = {}) {
  const first = await coordinator.join(joinRequest(overrides), 5, client);
  assert.equal(first.errorCode, errorCode('MEMBER_ID_REQUIRED'));
  assert.match(first.memberId, /^unit-/);
  return coordinator.join(joinRequest({ ...overrides, memberId: first.memberId }), 5, client);
}

test('a lone member joins, leads, syncs and heartbeats', async (t) => {
  const { coordinator } = await setUp(t);
  const joined = await joinNew(coordinator);
  assert.equal(joined.errorCode, 0);
  assert.equal(joined.generationId, 1);
  assert.equal(joined.leader, joined.memberId);
  assert.deepEqual(
    joined.members.map((m) => m.metadata.toString()),
    ['m'],
  );
  const { memberId } = joined;
  assert.equal(
    coordinator.heartbeat({ groupId: 'g', generationId: 1, memberId }),
    errorCode('REBALANCE_IN_PROGRESS'),
  );
  const synced = await coordinator.sync({
    groupId: 'g',
    generationId: 1,
    memberId,
    assignments: [{ memberId, assignment: Buffer.from('all') }],
  });
  assert.deepEqual([synced.errorCode, synced.assignment.toString()], [0, 'all']);
  assert.equal(coordinator.heartbeat({ groupId: 'g', generationId: 1, memberId }), 0);
  assert.equal(
    coordinator.heartbeat({ groupId: 'g', generationId: 0, memberId }),
    errorCode('ILLEGAL_GENERATION'),
  );
  assert.equal(
    coordinator.heartbeat({ groupId: 'g', generationId: 1, memberId: 'x' }),
    errorCode('UNKNOWN_MEMBER_ID'),
  );
  assert.equal(coordinator.describe('g').state, 'Stable');
  assert.equal(coordinator.describe('nobody').state, 'Dead');
});

test('a second member triggers a rebalance; the leader distributes assignments', async (t) => {
  const { coordinator } = await setUp(t);
  const a = await joinNew(coordinator, {
    protocols: [
      { name: 'range', metadata: Buffer.from('a') },
      { name: 'roundrobin', metadata: Buffer.from('a') },
    ],
  });
  await coordinator.sync({ groupId: 'g', generationId: 1, memberId: a.memberId, assignments: [] });
  const bJoin = joinNew(coordinator, {
    protocols: [{ name: 'roundrobin', metadata: Buffer.from('b') }],
  });
  await eventually('rebalance to start', () =>
    coordinator.heartbeat({ groupId: 'g', generationId: 1, memberId: a.memberId }) ===
    errorCode('REBALANCE_IN_PROGRESS')
      ? true
      : undefined,
  );
  const aRejoin = await coordinator.join(
    joinRequest({
      memberId: a.memberId,
      protocols: [
        { name: 'range', metadata: Buffer.from('a') },
        { name: 'roundrobin', metadata: Buffer.from('a') },
      ],
    }),
    5,
    client,
  );
  const b = await bJoin;
  assert.deepEqual([aRejoin.generationId, b.generationId], [2, 2]);
  assert.equal(aRejoin.protocolName, 'roundrobin', 'the only protocol both support');
  assert.equal(aRejoin.leader, a.memberId);
  assert.deepEqual(aRejoin.members.map((m) => m.metadata.toString()).sort(), ['a', 'b']);
  assert.deepEqual(b.members, [], 'followers do not get the member list');

  const bSync = coordinator.sync({
    groupId: 'g',
    generationId: 2,
    memberId: b.memberId,
    assignments: [],
  });
  const aSync = await coordinator.sync({
    groupId: 'g',
    generationId: 2,
    memberId: a.memberId,
    assignments: [
      { memberId: a.memberId, assignment: Buffer.from('p0') },
      { memberId: b.memberId, assignment: Buffer.from('p1') },
    ],
  });
  assert.equal(aSync.assignment.toString(), 'p0');
  assert.equal((await bSync).assignment.toString(), 'p1');
  assert.equal(coordinator.describe('g').members.length, 2);
});

test('members without a common protocol are refused', async (t) => {
  const { coordinator } = await setUp(t);
  await joinNew(coordinator);
  const other = await coordinator.join(
    joinRequest({ protocols: [{ name: 'sticky', metadata: Buffer.alloc(0) }] }),
    3,
    client,
  );
  assert.equal(other.errorCode, errorCode('INCONSISTENT_GROUP_PROTOCOL'));
  const invalid = await coordinator.join(joinRequest({ sessionTimeoutMs: 1 }), 3, client);
  assert.equal(invalid.errorCode, errorCode('INVALID_SESSION_TIMEOUT'));
});

test('a member whose session expires is removed and the group rebalances without it', async (t) => {
  const { coordinator } = await setUp(t);
  const a = await joinNew(coordinator);
  await coordinator.sync({ groupId: 'g', generationId: 1, memberId: a.memberId, assignments: [] });
  const bJoin = joinNew(coordinator, { sessionTimeoutMs: 100 });
  await eventually('rebalance to start', () =>
    coordinator.heartbeat({ groupId: 'g', generationId: 1, memberId: a.memberId }) ===
    errorCode('REBALANCE_IN_PROGRESS')
      ? true
      : undefined,
  );
  await coordinator.join(joinRequest({ memberId: a.memberId }), 5, client);
  const b = await bJoin;
  assert.equal(b.generationId, 2);
  await coordinator.sync({ groupId: 'g', generationId: 2, memberId: a.memberId, assignments: [] });
  assert.equal(coordinator.describe('g').state, 'Stable');
  // b never heartbeats again; a keeps its session alive and is told to rejoin.
  await eventually('b to be expelled', () => {
    const code = coordinator.heartbeat({ groupId: 'g', generationId: 2, memberId: a.memberId });
    return code === errorCode('REBALANCE_IN_PROGRESS') ? true : undefined;
  });
  const alone = await coordinator.join(joinRequest({ memberId: a.memberId }), 5, client);
  assert.equal(alone.generationId, 3);
  assert.deepEqual(
    alone.members.map((m) => m.memberId),
    [a.memberId],
  );
});

test('a member that does not rejoin within the rebalance timeout is dropped', async (t) => {
  const { coordinator } = await setUp(t);
  const a = await joinNew(coordinator, { rebalanceTimeoutMs: 200 });
  await coordinator.sync({ groupId: 'g', generationId: 1, memberId: a.memberId, assignments: [] });
  const b = await joinNew(coordinator, { rebalanceTimeoutMs: 200 });
  assert.equal(b.generationId, 2);
  assert.deepEqual(
    b.members.map((m) => m.memberId),
    [b.memberId],
    'b leads the group alone',
  );
  assert.equal(
    coordinator.heartbeat({ groupId: 'g', generationId: 1, memberId: a.memberId }),
    errorCode('UNKNOWN_MEMBER_ID'),
  );
});

test('leaving triggers a rebalance and the last member leaving empties the group', async (t) => {
  const { coordinator } = await setUp(t);
  const a = await joinNew(coordinator);
  await coordinator.sync({ groupId: 'g', generationId: 1, memberId: a.memberId, assignments: [] });
  assert.deepEqual(coordinator.leave('g', ['stranger']).members, [
    { memberId: 'stranger', errorCode: errorCode('UNKNOWN_MEMBER_ID') },
  ]);
  assert.deepEqual(coordinator.leave('g', [a.memberId]).members, [
    { memberId: a.memberId, errorCode: 0 },
  ]);
  assert.equal(coordinator.describe('g').state, 'Empty');
  assert.deepEqual(
    coordinator.leave('forgotten-by-a-restart', ['old-member']).members,
    [{ memberId: 'old-member', errorCode: 0 }],
    'leaving a group the coordinator does not know succeeds',
  );
  assert.deepEqual(coordinator.list(), [{ groupId: 'g', protocolType: 'consumer' }]);
  assert.equal(await coordinator.deleteGroup('g'), 0);
  assert.equal(await coordinator.deleteGroup('g'), errorCode('GROUP_ID_NOT_FOUND'));
});

test('offset commits check generation and membership; simple commits need an empty group', async (t) => {
  const { coordinator, store } = await setUp(t);
  const commit = (generationId: number, memberId: string, partition = 0) =>
    coordinator.commitOffsets({
      groupId: 'g',
      generationId,
      memberId,
      topics: [{ name: 'feed', partitions: [{ partition, offset: 42, metadata: 'm' }] }],
    });
  const codeOf = async (pending: ReturnType<typeof commit>) =>
    (await pending).topics[0]?.partitions[0]?.errorCode;

  assert.equal(await codeOf(commit(-1, '')), 0, 'simple commit on an unknown group');
  const a = await joinNew(coordinator);
  assert.equal(await codeOf(commit(1, a.memberId)), errorCode('REBALANCE_IN_PROGRESS'));
  await coordinator.sync({ groupId: 'g', generationId: 1, memberId: a.memberId, assignments: [] });
  assert.equal(await codeOf(commit(1, a.memberId)), 0);
  assert.equal(await codeOf(commit(7, a.memberId)), errorCode('ILLEGAL_GENERATION'));
  assert.equal(await codeOf(commit(1, 'intruder')), errorCode('UNKNOWN_MEMBER_ID'));
  assert.equal(
    await codeOf(commit(-1, '')),
    errorCode('UNKNOWN_MEMBER_ID'),
    'simple commit on a live group',
  );
  assert.equal(await codeOf(commit(1, a.memberId, 9)), errorCode('UNKNOWN_TOPIC_OR_PARTITION'));
  assert.equal(await coordinator.deleteGroup('g'), errorCode('NON_EMPTY_GROUP'));

  assert.deepEqual(
    store.fetchOffsets('g').map((o) => [o.topic, o.partition, o.offset, o.metadata]),
    [['feed', 0, 42, 'm']],
  );
  const fetched = coordinator.fetchOffsets({
    groupId: 'g',
    topics: [{ name: 'feed', partitions: [0, 1] }],
  });
  assert.deepEqual(
    fetched.topics[0]?.partitions.map((p) => [p.partition, p.offset]),
    [
      [0, 42],
      [1, -1],
    ],
  );
  assert.deepEqual(
    coordinator.fetchOffsets({ groupId: 'g', topics: null }).topics.map((topic) => topic.name),
    ['feed'],
  );
});

test('sync from a stale generation or unknown member is refused', async (t) => {
  const { coordinator } = await setUp(t);
  const a = await joinNew(coordinator);
  const stale = await coordinator.sync({
    groupId: 'g',
    generationId: 0,
    memberId: a.memberId,
    assignments: [],
  });
  assert.equal(stale.errorCode, errorCode('ILLEGAL_GENERATION'));
  const unknown = await coordinator.sync({
    groupId: 'g',
    generationId: 1,
    memberId: 'x',
    assignments: [],
  });
  assert.equal(unknown.errorCode, errorCode('UNKNOWN_MEMBER_ID'));
});

test('an empty group waits the initial delay to gather members into one generation', async (t) => {
  const { coordinator } = await setUp(t, 300);
  const [a, b] = await Promise.all([joinNew(coordinator), joinNew(coordinator)]);
  assert.deepEqual([a.generationId, b.generationId], [1, 1]);
  assert.equal([a, b].find((m) => m.memberId === m.leader)?.members.length, 2);
});
