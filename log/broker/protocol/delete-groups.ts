/**
 * DeleteGroups (api key 42), versions 0–1:
 *
 *   DeleteGroups Request => [groups_names STRING]
 *
 *   DeleteGroups Response => throttle_time_ms [results]
 *     results => group_id error_code
 */
import type { Reader } from './reader.js';
import type { Writer } from './writer.js';

export function decodeDeleteGroupsRequest(reader: Reader, _version: number): string[] {
  return reader.array((name) => name.string(), 2);
}

export function encodeDeleteGroupsResponse(
  writer: Writer,
  _version: number,
  results: readonly { groupId: string; errorCode: number }[],
): void {
  writer.int32(0).array(results, (w, result) => {
    w.string(result.groupId).int16(result.errorCode);
  });
}
