/**
 * One consumer group's membership as the coordinator keeps it in memory (Kafka's classic
 * group protocol, KIP-62/KIP-394 era). States and their transitions:
 *
 *   Empty ──join──▶ PreparingRebalance ──all joined / timeout──▶ CompletingRebalance
 *     ▲                 ▲      │                                   │ leader's SyncGroup
 *     └─last member gone┘      └─────── member joins/leaves/dies ◀─┴──▶ Stable
 *
 * Dead is reported for groups the coordinator does not know. Committed offsets live in the
 * store, not here, so they survive restarts while memberships do not (clients rejoin).
 */
import type { GroupProtocol, JoinGroupResponse } from '../protocol/join-group.js';
import type { SyncGroupResponse } from '../protocol/sync-group.js';

export type GroupState = 'Empty' | 'PreparingRebalance' | 'CompletingRebalance' | 'Stable' | 'Dead';

export interface GroupMember {
  readonly memberId: string;
  readonly clientId: string;
  readonly clientHost: string;
  sessionTimeoutMs: number;
  rebalanceTimeoutMs: number;
  protocols: readonly GroupProtocol[];
  assignment: Buffer;
  /** Set while the member's JoinGroup waits for the rebalance to complete. */
  joinWaiter: ((response: JoinGroupResponse) => void) | undefined;
  /** Set while the member's SyncGroup waits for the leader's assignment. */
  syncWaiter: ((response: SyncGroupResponse) => void) | undefined;
  sessionTimer: NodeJS.Timeout | undefined;
}

export interface Group {
  readonly groupId: string;
  state: GroupState;
  protocolType: string | null;
  protocolName: string | null;
  generationId: number;
  leaderId: string | null;
  readonly members: Map<string, GroupMember>;
  /** Ids handed out with MEMBER_ID_REQUIRED (JoinGroup v4+) that have not joined yet. */
  readonly pendingMemberIds: Set<string>;
  /** Runs while an empty group gathers members; no rebalance completes meanwhile. */
  initialDelayTimer: NodeJS.Timeout | undefined;
  joinTimer: NodeJS.Timeout | undefined;
}

export function createGroup(groupId: string): Group {
  return {
    groupId,
    state: 'Empty',
    protocolType: null,
    protocolName: null,
    generationId: 0,
    leaderId: null,
    members: new Map(),
    pendingMemberIds: new Set(),
    initialDelayTimer: undefined,
    joinTimer: undefined,
  };
}

/** The protocol every member supports that most members prefer (first listed = preferred). */
export function selectProtocol(members: Iterable<GroupMember>): string {
  const all = [...members];
  const candidates = all
    .map((member) => new Set(member.protocols.map((protocol) => protocol.name)))
    .reduce((common, names) => new Set([...common].filter((name) => names.has(name))));
  const votes = new Map<string, number>();
  for (const member of all) {
    const vote = member.protocols.find((protocol) => candidates.has(protocol.name));
    if (vote !== undefined) votes.set(vote.name, (votes.get(vote.name) ?? 0) + 1);
  }
  let best = '';
  let bestVotes = 0;
  for (const [name, count] of votes) {
    if (count > bestVotes) [best, bestVotes] = [name, count];
  }
  return best;
}

/** Whether a joining member's protocols can coexist with the group's current members. */
export function supportsProtocols(
  group: Group,
  protocolType: string,
  protocols: readonly GroupProtocol[],
): boolean {
  if (protocols.length === 0 || protocolType === '') return false;
  if (group.members.size === 0) return true;
  if (group.protocolType !== protocolType) return false;
  return protocols.some((candidate) =>
    [...group.members.values()].every((member) =>
      member.protocols.some((protocol) => protocol.name === candidate.name),
    ),
  );
}

export function sameProtocols(a: readonly GroupProtocol[], b: readonly GroupProtocol[]): boolean {
  return (
    a.length === b.length &&
    a.every((protocol, index) => {
      const other = b[index];
      return (
        other !== undefined &&
        other.name === protocol.name &&
        other.metadata.equals(protocol.metadata)
      );
    })
  );
}

export function memberMetadata(member: GroupMember, protocolName: string | null): Buffer {
  return member.protocols.find((protocol) => protocol.name === protocolName)?.metadata ?? EMPTY;
}

export const EMPTY = Buffer.alloc(0);
