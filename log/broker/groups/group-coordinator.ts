/**
 * The consumer-group coordinator of the single-node broker: Kafka's classic group
 * membership protocol (JoinGroup / SyncGroup / Heartbeat / LeaveGroup, KIP-62 rebalance
 * timeouts, KIP-394 MEMBER_ID_REQUIRED for JoinGroup v4+) and committed offsets.
 *
 * Invariants:
 * - A rebalance completes when every known member has a JoinGroup waiting (or when the
 *   longest rebalance timeout passes: members that did not rejoin are removed), and never
 *   while the initial delay runs (it lets a group that starts empty gather its members).
 * - Each completed rebalance bumps the generation; only the current generation's members
 *   may sync, heartbeat or commit.
 * - A member whose session times out is removed and the group rebalances; a member waiting
 *   in JoinGroup is not expired (its session restarts when the join completes).
 * - Committed offsets are written through to the store before the commit is acknowledged.
 */
import { randomUUID } from 'node:crypto';
import type { BrokerLogger } from '../broker-logger.js';
import { errorCode } from '../protocol/error-codes.js';
import type { DescribedGroup } from '../protocol/describe-groups.js';
import type { HeartbeatRequest } from '../protocol/heartbeat.js';
import type { JoinGroupRequest, JoinGroupResponse } from '../protocol/join-group.js';
import type { LeaveGroupResponse } from '../protocol/leave-group.js';
import type { ListedGroup } from '../protocol/list-groups.js';
import type { OffsetCommitRequest, OffsetCommitResponse } from '../protocol/offset-commit.js';
import type { OffsetFetchRequest, OffsetFetchResponse } from '../protocol/offset-fetch.js';
import type { SyncGroupRequest, SyncGroupResponse } from '../protocol/sync-group.js';
import type { BrokerStore } from '../storage/store.js';
import {
  createGroup,
  EMPTY,
  memberMetadata,
  sameProtocols,
  selectProtocol,
  supportsProtocols,
  type Group,
  type GroupMember,
} from './group.js';

export interface GroupCoordinatorOptions {
  readonly store: BrokerStore;
  readonly logger: BrokerLogger;
  /** Kafka's group.initial.rebalance.delay.ms: how long an empty group waits for more members. */
  readonly initialRebalanceDelayMs: number;
  readonly minSessionTimeoutMs: number;
  readonly maxSessionTimeoutMs: number;
}

export interface ClientIdentity {
  readonly clientId: string;
  /** As Kafka reports it: '/' followed by the address. */
  readonly clientHost: string;
}

const NONE = 0;

export class GroupCoordinator {
  private readonly groups = new Map<string, Group>();
  private closed = false;

  constructor(private readonly options: GroupCoordinatorOptions) {}

  join(
    request: JoinGroupRequest,
    version: number,
    client: ClientIdentity,
  ): Promise<JoinGroupResponse> {
    const fail = (name: Parameters<typeof errorCode>[0], memberId = request.memberId) =>
      Promise.resolve(joinError(errorCode(name), memberId));
    if (this.closed) return fail('COORDINATOR_NOT_AVAILABLE');
    if (request.groupId === '') return fail('INVALID_GROUP_ID');
    const { minSessionTimeoutMs, maxSessionTimeoutMs } = this.options;
    if (
      request.sessionTimeoutMs < minSessionTimeoutMs ||
      request.sessionTimeoutMs > maxSessionTimeoutMs
    ) {
      return fail('INVALID_SESSION_TIMEOUT');
    }
    let group = this.groups.get(request.groupId);
    if (group === undefined) {
      if (request.memberId !== '') return fail('UNKNOWN_MEMBER_ID');
      group = createGroup(request.groupId);
      this.groups.set(group.groupId, group);
    }
    if (!supportsProtocols(group, request.protocolType, request.protocols)) {
      return fail('INCONSISTENT_GROUP_PROTOCOL');
    }
    if (request.memberId === '') {
      const memberId = `${client.clientId}-${randomUUID()}`;
      if (version >= 4) {
        group.pendingMemberIds.add(memberId);
        // An id handed out but never used expires like a session would.
        const pending = group;
        setTimeout(
          () => pending.pendingMemberIds.delete(memberId),
          request.sessionTimeoutMs,
        ).unref();
        return fail('MEMBER_ID_REQUIRED', memberId);
      }
      return this.addMemberAndRebalance(group, memberId, request, client);
    }
    if (group.pendingMemberIds.delete(request.memberId)) {
      return this.addMemberAndRebalance(group, request.memberId, request, client);
    }
    const member = group.members.get(request.memberId);
    if (member === undefined) return fail('UNKNOWN_MEMBER_ID');
    return this.rejoin(group, member, request);
  }

  sync(request: SyncGroupRequest): Promise<SyncGroupResponse> {
    const fail = (name: Parameters<typeof errorCode>[0]) =>
      Promise.resolve({ errorCode: errorCode(name), assignment: EMPTY });
    const group = this.groups.get(request.groupId);
    const member = group?.members.get(request.memberId);
    if (group === undefined || member === undefined) return fail('UNKNOWN_MEMBER_ID');
    if (request.generationId !== group.generationId) return fail('ILLEGAL_GENERATION');
    this.touch(group, member);
    if (group.state === 'PreparingRebalance') return fail('REBALANCE_IN_PROGRESS');
    if (group.state === 'Stable')
      return Promise.resolve({ errorCode: NONE, assignment: member.assignment });
    if (group.state !== 'CompletingRebalance') return fail('UNKNOWN_MEMBER_ID');
    return new Promise((resolve) => {
      member.syncWaiter?.({ errorCode: errorCode('REBALANCE_IN_PROGRESS'), assignment: EMPTY });
      member.syncWaiter = resolve;
      if (member.memberId === group.leaderId) this.completeSync(group, request.assignments);
    });
  }

  heartbeat(request: HeartbeatRequest): number {
    const group = this.groups.get(request.groupId);
    const member = group?.members.get(request.memberId);
    if (group === undefined || member === undefined) return errorCode('UNKNOWN_MEMBER_ID');
    if (request.generationId !== group.generationId) return errorCode('ILLEGAL_GENERATION');
    this.touch(group, member);
    return group.state === 'Stable' ? NONE : errorCode('REBALANCE_IN_PROGRESS');
  }

  leave(groupId: string, memberIds: readonly string[]): LeaveGroupResponse {
    const group = this.groups.get(groupId);
    const members = memberIds.map((memberId) => {
      // Memberships do not survive a restart: leaving a group this coordinator does not
      // know is already done, so it succeeds instead of failing the client's shutdown.
      if (group === undefined) return { memberId, errorCode: NONE };
      const member = group.members.get(memberId);
      if (member === undefined) return { memberId, errorCode: errorCode('UNKNOWN_MEMBER_ID') };
      this.options.logger.info({ groupId, memberId }, 'member left the group');
      this.removeMember(group, member);
      return { memberId, errorCode: NONE };
    });
    return { errorCode: NONE, members };
  }

  async commitOffsets(request: OffsetCommitRequest): Promise<OffsetCommitResponse> {
    const groupError = this.commitError(request);
    const { store } = this.options;
    const accepted: {
      topic: string;
      partition: number;
      offset: number;
      metadata: string | null;
    }[] = [];
    const topics = request.topics.map((topic) => ({
      name: topic.name,
      partitions: topic.partitions.map((entry) => {
        let code = groupError;
        if (code === NONE && store.partition(topic.name, entry.partition) === undefined) {
          code = errorCode('UNKNOWN_TOPIC_OR_PARTITION');
        }
        if (code === NONE) accepted.push({ topic: topic.name, ...entry });
        return { partition: entry.partition, errorCode: code };
      }),
    }));
    if (accepted.length === 0) return { topics };
    try {
      await store.commitOffsets(request.groupId, accepted);
      return { topics };
    } catch (error) {
      this.options.logger.error({ groupId: request.groupId, error }, 'committing offsets failed');
      const failed = errorCode('KAFKA_STORAGE_ERROR');
      return {
        topics: topics.map((topic) => ({
          name: topic.name,
          partitions: topic.partitions.map((p) => ({
            partition: p.partition,
            errorCode: p.errorCode === NONE ? failed : p.errorCode,
          })),
        })),
      };
    }
  }

  fetchOffsets(request: OffsetFetchRequest): OffsetFetchResponse {
    const requestedTopics = request.topics?.map((topic) => topic.name);
    const committed = this.options.store.fetchOffsets(request.groupId, requestedTopics);
    const byTopic = new Map<string, Map<number, { offset: number; metadata: string | null }>>();
    for (const entry of committed) {
      const partitions = byTopic.get(entry.topic) ?? new Map();
      partitions.set(entry.partition, entry);
      byTopic.set(entry.topic, partitions);
    }
    const wanted =
      request.topics ??
      [...byTopic].map(([name, partitions]) => ({ name, partitions: [...partitions.keys()] }));
    return {
      errorCode: NONE,
      topics: wanted.map((topic) => ({
        name: topic.name,
        partitions: topic.partitions.map((partition) => {
          const found = byTopic.get(topic.name)?.get(partition);
          return {
            partition,
            offset: found?.offset ?? -1,
            metadata: found === undefined ? '' : found.metadata,
            errorCode: NONE,
          };
        }),
      })),
    };
  }

  describe(groupId: string): DescribedGroup {
    const group = this.groups.get(groupId);
    if (group === undefined) {
      const known = this.options.store.offsetGroups().includes(groupId);
      return {
        errorCode: NONE,
        groupId,
        state: known ? 'Empty' : 'Dead',
        protocolType: '',
        protocolName: '',
        members: [],
      };
    }
    return {
      errorCode: NONE,
      groupId,
      state: group.state,
      protocolType: group.protocolType ?? '',
      protocolName: group.state === 'Stable' ? (group.protocolName ?? '') : '',
      members: [...group.members.values()].map((member) => ({
        memberId: member.memberId,
        clientId: member.clientId,
        clientHost: member.clientHost,
        metadata: memberMetadata(member, group.protocolName),
        assignment: group.state === 'Stable' ? member.assignment : EMPTY,
      })),
    };
  }

  list(): ListedGroup[] {
    const listed = new Map<string, string>();
    for (const groupId of this.options.store.offsetGroups()) listed.set(groupId, '');
    for (const group of this.groups.values()) listed.set(group.groupId, group.protocolType ?? '');
    return [...listed].map(([groupId, protocolType]) => ({ groupId, protocolType }));
  }

  async deleteGroup(groupId: string): Promise<number> {
    if (groupId === '') return errorCode('INVALID_GROUP_ID');
    const group = this.groups.get(groupId);
    if (group !== undefined && group.state !== 'Empty') return errorCode('NON_EMPTY_GROUP');
    const hasOffsets = this.options.store.offsetGroups().includes(groupId);
    if (group === undefined && !hasOffsets) return errorCode('GROUP_ID_NOT_FOUND');
    this.groups.delete(groupId);
    if (hasOffsets) await this.options.store.deleteGroupOffsets(groupId);
    return NONE;
  }

  close(): void {
    this.closed = true;
    for (const group of this.groups.values()) {
      clearTimeout(group.joinTimer);
      clearTimeout(group.initialDelayTimer);
      for (const member of group.members.values()) {
        clearTimeout(member.sessionTimer);
        member.joinWaiter?.(joinError(errorCode('COORDINATOR_NOT_AVAILABLE'), member.memberId));
        member.syncWaiter?.({
          errorCode: errorCode('COORDINATOR_NOT_AVAILABLE'),
          assignment: EMPTY,
        });
      }
    }
    this.groups.clear();
  }

  private commitError(request: OffsetCommitRequest): number {
    const group = this.groups.get(request.groupId);
    if (request.groupId === '') return errorCode('INVALID_GROUP_ID');
    if (group === undefined || group.state === 'Empty') {
      // Commits outside group management (kcat -o, admin tools) carry generation -1.
      return request.generationId < 0 ? NONE : errorCode('ILLEGAL_GENERATION');
    }
    const member = group.members.get(request.memberId);
    if (member === undefined) return errorCode('UNKNOWN_MEMBER_ID');
    if (request.generationId !== group.generationId) return errorCode('ILLEGAL_GENERATION');
    if (group.state === 'CompletingRebalance') return errorCode('REBALANCE_IN_PROGRESS');
    this.touch(group, member);
    return NONE;
  }

  private addMemberAndRebalance(
    group: Group,
    memberId: string,
    request: JoinGroupRequest,
    client: ClientIdentity,
  ): Promise<JoinGroupResponse> {
    const member: GroupMember = {
      memberId,
      clientId: client.clientId,
      clientHost: client.clientHost,
      sessionTimeoutMs: request.sessionTimeoutMs,
      rebalanceTimeoutMs: request.rebalanceTimeoutMs,
      protocols: request.protocols,
      assignment: EMPTY,
      joinWaiter: undefined,
      syncWaiter: undefined,
      sessionTimer: undefined,
    };
    if (group.members.size === 0) group.protocolType = request.protocolType;
    group.members.set(memberId, member);
    if (group.leaderId === null) group.leaderId = memberId;
    this.options.logger.info(
      { groupId: group.groupId, memberId, clientHost: client.clientHost },
      'member joined the group',
    );
    return this.awaitJoin(group, member);
  }

  private rejoin(
    group: Group,
    member: GroupMember,
    request: JoinGroupRequest,
  ): Promise<JoinGroupResponse> {
    const unchanged = sameProtocols(member.protocols, request.protocols);
    member.protocols = request.protocols;
    member.sessionTimeoutMs = request.sessionTimeoutMs;
    member.rebalanceTimeoutMs = request.rebalanceTimeoutMs;
    if (group.state === 'PreparingRebalance') return this.awaitJoin(group, member);
    const current =
      group.state === 'CompletingRebalance' ||
      (group.state === 'Stable' && member.memberId !== group.leaderId);
    if (unchanged && current) {
      this.touch(group, member);
      return Promise.resolve(this.joinResponse(group, member));
    }
    return this.awaitJoin(group, member);
  }

  /** Parks the member's JoinGroup and moves the group towards completing the rebalance. */
  private awaitJoin(group: Group, member: GroupMember): Promise<JoinGroupResponse> {
    return new Promise((resolve) => {
      member.joinWaiter?.(joinError(errorCode('UNKNOWN_MEMBER_ID'), member.memberId));
      member.joinWaiter = resolve;
      if (group.state === 'PreparingRebalance') this.tryCompleteJoin(group);
      else this.prepareRebalance(group);
    });
  }

  private prepareRebalance(group: Group): void {
    if (group.state === 'CompletingRebalance') {
      for (const member of group.members.values()) {
        member.assignment = EMPTY;
        member.syncWaiter?.({ errorCode: errorCode('REBALANCE_IN_PROGRESS'), assignment: EMPTY });
        member.syncWaiter = undefined;
      }
    }
    const rebalanceTimeoutMs = Math.max(
      0,
      ...[...group.members.values()].map((m) => m.rebalanceTimeoutMs),
    );
    const initialDelayMs =
      group.state === 'Empty'
        ? Math.min(this.options.initialRebalanceDelayMs, rebalanceTimeoutMs)
        : 0;
    group.state = 'PreparingRebalance';
    clearTimeout(group.joinTimer);
    // Force completion at the rebalance timeout: members that did not rejoin are dropped.
    group.joinTimer = setTimeout(() => this.completeJoin(group), rebalanceTimeoutMs);
    clearTimeout(group.initialDelayTimer);
    group.initialDelayTimer = undefined;
    if (initialDelayMs > 0) {
      group.initialDelayTimer = setTimeout(() => {
        group.initialDelayTimer = undefined;
        this.tryCompleteJoin(group);
      }, initialDelayMs);
    }
    this.options.logger.debug(
      { groupId: group.groupId, generationId: group.generationId },
      'rebalance started',
    );
    this.tryCompleteJoin(group);
  }

  private tryCompleteJoin(group: Group): void {
    if (group.state !== 'PreparingRebalance' || group.initialDelayTimer !== undefined) return;
    for (const member of group.members.values()) if (member.joinWaiter === undefined) return;
    this.completeJoin(group);
  }

  private completeJoin(group: Group): void {
    if (group.state !== 'PreparingRebalance' || this.groups.get(group.groupId) !== group) return;
    clearTimeout(group.joinTimer);
    clearTimeout(group.initialDelayTimer);
    group.joinTimer = undefined;
    group.initialDelayTimer = undefined;
    for (const member of [...group.members.values()]) {
      if (member.joinWaiter === undefined) {
        this.options.logger.info(
          { groupId: group.groupId, memberId: member.memberId },
          'member did not rejoin in time; removed',
        );
        clearTimeout(member.sessionTimer);
        group.members.delete(member.memberId);
      }
    }
    group.generationId += 1;
    if (group.members.size === 0) {
      group.state = 'Empty';
      group.protocolName = null;
      group.leaderId = null;
      return;
    }
    group.protocolName = selectProtocol(group.members.values());
    if (group.leaderId === null || !group.members.has(group.leaderId)) {
      group.leaderId = group.members.keys().next().value ?? null;
    }
    group.state = 'CompletingRebalance';
    this.options.logger.info(
      {
        groupId: group.groupId,
        generationId: group.generationId,
        members: group.members.size,
        protocol: group.protocolName,
      },
      'rebalance completed',
    );
    for (const member of group.members.values()) {
      const waiter = member.joinWaiter;
      member.joinWaiter = undefined;
      this.touch(group, member);
      waiter?.(this.joinResponse(group, member));
    }
  }

  private completeSync(group: Group, assignments: SyncGroupRequest['assignments']): void {
    const byMember = new Map(assignments.map((entry) => [entry.memberId, entry.assignment]));
    group.state = 'Stable';
    for (const member of group.members.values()) {
      member.assignment = byMember.get(member.memberId) ?? EMPTY;
      const waiter = member.syncWaiter;
      member.syncWaiter = undefined;
      waiter?.({ errorCode: NONE, assignment: member.assignment });
    }
  }

  private joinResponse(group: Group, member: GroupMember): JoinGroupResponse {
    const isLeader = member.memberId === group.leaderId;
    return {
      errorCode: NONE,
      generationId: group.generationId,
      protocolName: group.protocolName ?? '',
      leader: group.leaderId ?? '',
      memberId: member.memberId,
      members: isLeader
        ? [...group.members.values()].map((m) => ({
            memberId: m.memberId,
            groupInstanceId: null,
            metadata: memberMetadata(m, group.protocolName),
          }))
        : [],
    };
  }

  /** Restarts the member's session: it is expelled if nothing arrives within its timeout. */
  private touch(group: Group, member: GroupMember): void {
    clearTimeout(member.sessionTimer);
    member.sessionTimer = setTimeout(() => {
      if (member.joinWaiter !== undefined || group.members.get(member.memberId) !== member) return;
      this.options.logger.info(
        { groupId: group.groupId, memberId: member.memberId },
        'member session expired',
      );
      this.removeMember(group, member);
    }, member.sessionTimeoutMs);
  }

  private removeMember(group: Group, member: GroupMember): void {
    clearTimeout(member.sessionTimer);
    group.members.delete(member.memberId);
    member.joinWaiter?.(joinError(errorCode('UNKNOWN_MEMBER_ID'), member.memberId));
    member.joinWaiter = undefined;
    member.syncWaiter?.({ errorCode: errorCode('UNKNOWN_MEMBER_ID'), assignment: EMPTY });
    member.syncWaiter = undefined;
    if (group.leaderId === member.memberId)
      group.leaderId = group.members.keys().next().value ?? null;
    if (group.state === 'Stable' || group.state === 'CompletingRebalance')
      this.prepareRebalance(group);
    else if (group.state === 'PreparingRebalance') this.tryCompleteJoin(group);
  }
}

function joinError(code: number, memberId: string): JoinGroupResponse {
  return { errorCode: code, generationId: -1, protocolName: '', leader: '', memberId, members: [] };
}
