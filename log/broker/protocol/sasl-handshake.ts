/**
 * SaslHandshake (api key 17), versions 0–1. v0 is followed by raw SASL tokens on the
 * socket; v1 by SaslAuthenticate requests.
 *
 *   SaslHandshake Request => mechanism STRING
 *
 *   SaslHandshake Response => error_code [mechanisms STRING]
 */
import type { Reader } from './reader.js';
import type { Writer } from './writer.js';

export function decodeSaslHandshakeRequest(reader: Reader, _version: number): string {
  return reader.string();
}

export function encodeSaslHandshakeResponse(
  writer: Writer,
  _version: number,
  response: { errorCode: number; mechanisms: readonly string[] },
): void {
  writer.int16(response.errorCode).array(response.mechanisms, (w, name) => w.string(name));
}
