/**
 * LeaveGroup (api key 13), versions 0–3:
 *
 *   LeaveGroup Request (v0–2) => group_id member_id
 *   LeaveGroup Request (v3)   => group_id [members]
 *     members => member_id group_instance_id
 *
 *   LeaveGroup Response => throttle_time_ms (v1+) error_code [members] (v3)
 *     members => member_id group_instance_id error_code
 */
import type { Reader } from './reader.js';
import type { Writer } from './writer.js';

export interface LeaveGroupRequest {
  readonly groupId: string;
  readonly memberIds: readonly string[];
}

export interface LeaveGroupResponse {
  /** Group-level error; member errors are per member (and top-level for v0–2). */
  readonly errorCode: number;
  readonly members: readonly { memberId: string; errorCode: number }[];
}

export function decodeLeaveGroupRequest(reader: Reader, version: number): LeaveGroupRequest {
  const groupId = reader.string();
  if (version < 3) return { groupId, memberIds: [reader.string()] };
  const memberIds = reader.array((member) => {
    const memberId = member.string();
    member.nullableString(); // group_instance_id
    return memberId;
  }, 4);
  return { groupId, memberIds };
}

export function encodeLeaveGroupResponse(
  writer: Writer,
  version: number,
  response: LeaveGroupResponse,
): void {
  if (version >= 1) writer.int32(0);
  // v0–2 carry one member, whose error is the response's error.
  const memberError = response.members.find((member) => member.errorCode !== 0)?.errorCode;
  writer.int16(version < 3 && response.errorCode === 0 ? (memberError ?? 0) : response.errorCode);
  if (version >= 3) {
    writer.array(response.members, (w, member) => {
      w.string(member.memberId).nullableString(null).int16(member.errorCode);
    });
  }
}
