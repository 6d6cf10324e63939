/**
 * FindCoordinator (api key 10), versions 0–2:
 *
 *   FindCoordinator Request => key key_type (v1+, INT8: 0 group, 1 transaction)
 *
 *   FindCoordinator Response => throttle_time_ms (v1+) error_code error_message (v1+)
 *                               node_id host port
 */
import type { Reader } from './reader.js';
import type { Writer } from './writer.js';

export interface FindCoordinatorRequest {
  readonly key: string;
  readonly keyType: number;
}

export interface FindCoordinatorResponse {
  readonly errorCode: number;
  readonly errorMessage: string | null;
  readonly nodeId: number;
  readonly host: string;
  readonly port: number;
}

export function decodeFindCoordinatorRequest(
  reader: Reader,
  version: number,
): FindCoordinatorRequest {
  const key = reader.string();
  return { key, keyType: version >= 1 ? reader.int8() : 0 };
}

export function encodeFindCoordinatorResponse(
  writer: Writer,
  version: number,
  response: FindCoordinatorResponse,
): void {
  if (version >= 1) writer.int32(0);
  writer.int16(response.errorCode);
  if (version >= 1) writer.nullableString(response.errorMessage);
  writer.int32(response.nodeId).string(response.host).int32(response.port);
}
