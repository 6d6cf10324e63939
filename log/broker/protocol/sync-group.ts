/**
 * SyncGroup (api key 14), versions 0–3:
 *
 *   SyncGroup Request => group_id generation_id member_id group_instance_id (v3+) [assignments]
 *     assignments => member_id assignment (BYTES)
 *
 *   SyncGroup Response => throttle_time_ms (v1+) error_code assignment (BYTES)
 */
import type { Reader } from './reader.js';
import type { Writer } from './writer.js';

export interface SyncGroupRequest {
  readonly groupId: string;
  readonly generationId: number;
  readonly memberId: string;
  readonly assignments: readonly { memberId: string; assignment: Buffer }[];
}

export interface SyncGroupResponse {
  readonly errorCode: number;
  readonly assignment: Buffer;
}

export function decodeSyncGroupRequest(reader: Reader, version: number): SyncGroupRequest {
  const groupId = reader.string();
  const generationId = reader.int32();
  const memberId = reader.string();
  if (version >= 3) reader.nullableString(); // group_instance_id
  const assignments = reader.array(
    (entry) => ({ memberId: entry.string(), assignment: Buffer.from(entry.bytes()) }),
    6,
  );
  return { groupId, generationId, memberId, assignments };
}

export function encodeSyncGroupResponse(
  writer: Writer,
  version: number,
  response: SyncGroupResponse,
): void {
  if (version >= 1) writer.int32(0);
  writer.int16(response.errorCode).bytes(response.assignment);
}
