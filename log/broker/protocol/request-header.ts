/**
 * Request header v1 and response header v0 (Kafka protocol guide, "Headers"):
 *
 *   Request Header v1 => request_api_key request_api_version correlation_id client_id
 *     request_api_key => INT16
 *     request_api_version => INT16
 *     correlation_id => INT32
 *     client_id => NULLABLE_STRING
 *   Response Header v0 => correlation_id
 *
 * Flexible versions would use request header v2 (tagged fields after client_id); the only
 * one a client sends us is ApiVersions v3+, whose body we never read (we answer error 35).
 */
import type { Reader } from './reader.js';

export interface RequestHeader {
  readonly apiKey: number;
  readonly apiVersion: number;
  readonly correlationId: number;
  readonly clientId: string | null;
}

/** Reads the fixed part (api key, version, correlation id); throws on fewer than 8 bytes. */
export function decodeRequestHeader(reader: Reader): RequestHeader {
  const apiKey = reader.int16();
  const apiVersion = reader.int16();
  const correlationId = reader.int32();
  const clientId = reader.nullableString();
  return { apiKey, apiVersion, correlationId, clientId };
}
