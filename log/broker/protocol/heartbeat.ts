/**
 * Heartbeat (api key 12), versions 0–3:
 *
 *   Heartbeat Request => group_id generation_id member_id group_instance_id (v3+)
 *
 *   Heartbeat Response => throttle_time_ms (v1+) error_code
 */
import type { Reader } from './reader.js';
import type { Writer } from './writer.js';

export interface HeartbeatRequest {
  readonly groupId: string;
  readonly generationId: number;
  readonly memberId: string;
}

export function decodeHeartbeatRequest(reader: Reader, version: number): HeartbeatRequest {
  const groupId = reader.string();
  const generationId = reader.int32();
  const memberId = reader.string();
  if (version >= 3) reader.nullableString(); // group_instance_id
  return { groupId, generationId, memberId };
}

export function encodeHeartbeatResponse(writer: Writer, version: number, errorCode: number): void {
  if (version >= 1) writer.int32(0);
  writer.int16(errorCode);
}
