/**
 * JoinGroup (api key 11), versions 0–5:
 *
 *   JoinGroup Request => group_id session_timeout_ms rebalance_timeout_ms (v1+) member_id
 *                        group_instance_id (v5+) protocol_type [protocols]
 *     protocols => name metadata (BYTES)
 *
 *   JoinGroup Response => throttle_time_ms (v2+) error_code generation_id protocol_name
 *                         leader member_id [members]
 *     members => member_id group_instance_id (v5+) metadata
 */
import type { Reader } from './reader.js';
import type { Writer } from './writer.js';

export interface GroupProtocol {
  readonly name: string;
  readonly metadata: Buffer;
}

export interface JoinGroupRequest {
  readonly groupId: string;
  readonly sessionTimeoutMs: number;
  readonly rebalanceTimeoutMs: number;
  readonly memberId: string;
  readonly groupInstanceId: string | null;
  readonly protocolType: string;
  readonly protocols: readonly GroupProtocol[];
}

export interface JoinGroupResponse {
  readonly errorCode: number;
  readonly generationId: number;
  readonly protocolName: string;
  readonly leader: string;
  readonly memberId: string;
  readonly members: readonly {
    memberId: string;
    groupInstanceId: string | null;
    metadata: Buffer;
  }[];
}

export function decodeJoinGroupRequest(reader: Reader, version: number): JoinGroupRequest {
  const groupId = reader.string();
  const sessionTimeoutMs = reader.int32();
  const rebalanceTimeoutMs = version >= 1 ? reader.int32() : sessionTimeoutMs;
  const memberId = reader.string();
  const groupInstanceId = version >= 5 ? reader.nullableString() : null;
  const protocolType = reader.string();
  const protocols = reader.array(
    (protocol) => ({ name: protocol.string(), metadata: Buffer.from(protocol.bytes()) }),
    6,
  );
  return {
    groupId,
    sessionTimeoutMs,
    rebalanceTimeoutMs,
    memberId,
    groupInstanceId,
    protocolType,
    protocols,
  };
}

export function encodeJoinGroupResponse(
  writer: Writer,
  version: number,
  response: JoinGroupResponse,
): void {
  if (version >= 2) writer.int32(0);
  writer
    .int16(response.errorCode)
    .int32(response.generationId)
    .string(response.protocolName)
    .string(response.leader)
    .string(response.memberId)
    .array(response.members, (w, member) => {
      w.string(member.memberId);
      if (version >= 5) w.nullableString(member.groupInstanceId);
      w.bytes(member.metadata);
    });
}
