/**
 * ListGroups (api key 16), versions 0–2:
 *
 *   ListGroups Request => (empty)
 *
 *   ListGroups Response => throttle_time_ms (v1+) error_code [groups]
 *     groups => group_id protocol_type
 */
import type { Writer } from './writer.js';

export interface ListedGroup {
  readonly groupId: string;
  readonly protocolType: string;
}

export function encodeListGroupsResponse(
  writer: Writer,
  version: number,
  groups: readonly ListedGroup[],
): void {
  if (version >= 1) writer.int32(0);
  writer.int16(0).array(groups, (w, group) => {
    w.string(group.groupId).string(group.protocolType);
  });
}
