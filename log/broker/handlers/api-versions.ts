/** ApiVersions: the supported-versions table; v3+ gets the v0 format with UNSUPPORTED_VERSION. */
import { SUPPORTED_APIS } from '../protocol/api-versions-table.js';
import { encodeApiVersionsResponse } from '../protocol/api-versions.js';
import { errorCode } from '../protocol/error-codes.js';
import type { RequestContext } from './request-context.js';

export const API_VERSIONS_MAX = 2;

export function handleApiVersions({ writer, version }: RequestContext): void {
  if (version > API_VERSIONS_MAX) {
    encodeApiVersionsResponse(writer, 0, errorCode('UNSUPPORTED_VERSION'), SUPPORTED_APIS);
  } else {
    encodeApiVersionsResponse(writer, version, 0, SUPPORTED_APIS);
  }
}
