/**
 * SaslAuthenticate (api key 36), versions 0–1: one SASL exchange step.
 *
 *   SaslAuthenticate Request => auth_bytes BYTES
 *
 *   SaslAuthenticate Response => error_code error_message auth_bytes
 *                                session_lifetime_ms (v1+, INT64; 0 = no re-authentication)
 */
import type { Reader } from './reader.js';
import type { Writer } from './writer.js';

export interface SaslAuthenticateResponse {
  readonly errorCode: number;
  readonly errorMessage: string | null;
  readonly authBytes: Buffer;
}

export function decodeSaslAuthenticateRequest(reader: Reader, _version: number): Buffer {
  return reader.bytes();
}

export function encodeSaslAuthenticateResponse(
  writer: Writer,
  version: number,
  response: SaslAuthenticateResponse,
): void {
  writer.int16(response.errorCode).nullableString(response.errorMessage).bytes(response.authBytes);
  if (version >= 1) writer.int64(0);
}
