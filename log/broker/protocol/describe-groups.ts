/**
 * DescribeGroups (api key 15), versions 0–2:
 *
 *   DescribeGroups Request => [groups STRING]
 *
 *   DescribeGroups Response => throttle_time_ms (v1+) [groups]
 *     groups => error_code group_id group_state protocol_type protocol_data [members]
 *       members => member_id client_id client_host member_metadata member_assignment
 */
import type { Reader } from './reader.js';
import type { Writer } from './writer.js';

export interface DescribedGroupMember {
  readonly memberId: string;
  readonly clientId: string;
  readonly clientHost: string;
  readonly metadata: Buffer;
  readonly assignment: Buffer;
}

export interface DescribedGroup {
  readonly errorCode: number;
  readonly groupId: string;
  readonly state: string;
  readonly protocolType: string;
  readonly protocolName: string;
  readonly members: readonly DescribedGroupMember[];
}

export function decodeDescribeGroupsRequest(reader: Reader, _version: number): string[] {
  return reader.array((group) => group.string(), 2);
}

export function encodeDescribeGroupsResponse(
  writer: Writer,
  version: number,
  groups: readonly DescribedGroup[],
): void {
  if (version >= 1) writer.int32(0);
  writer.array(groups, (w, group) => {
    w.int16(group.errorCode)
      .string(group.groupId)
      .string(group.state)
      .string(group.protocolType)
      .string(group.protocolName)
      .array(group.members, (mw, member) => {
        mw.string(member.memberId)
          .string(member.clientId)
          .string(member.clientHost)
          .bytes(member.metadata)
          .bytes(member.assignment);
      });
  });
}
