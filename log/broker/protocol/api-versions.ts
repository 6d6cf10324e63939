/**
 * ApiVersions (api key 18), versions 0–2:
 *
 *   ApiVersions Request (v0–2) => (empty)
 *
 *   ApiVersions Response => error_code [api_keys] throttle_time_ms (v1+)
 *     api_keys => api_key min_version max_version (INT16 each)
 *
 * A request at v3+ (flexible) is answered in the v0 format with UNSUPPORTED_VERSION and the
 * full table, which is how a client learns to retry at a version we speak.
 */
import type { ApiVersionRange } from './api-versions-table.js';
import type { Writer } from './writer.js';

export function encodeApiVersionsResponse(
  writer: Writer,
  version: number,
  errorCode: number,
  apis: readonly ApiVersionRange[],
): void {
  writer.int16(errorCode).array(apis, (w, api) => {
    w.int16(api.apiKey).int16(api.minVersion).int16(api.maxVersion);
  });
  if (version >= 1) writer.int32(0);
}
