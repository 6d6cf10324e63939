/**
 * Errors of the log area: Kafka access and the embedded broker. Kafka protocol error codes
 * the broker returns to clients are not these: they live in `broker/protocol/error-codes.ts`.
 */
import { defineErrorArea, type ErrorCodeTable } from '../errors/extentlog-error.js';

export const LOG_ERRORS = {
  EXTENTLOG_ERR_LOG_BROKER_OPTIONS: {
    summary:
      'The broker options are invalid (a missing TLS file, a bad port or limit); fix the option named in the message.',
    retriable: false,
  },
  EXTENTLOG_ERR_LOG_BROKER_LISTEN: {
    summary:
      'The broker could not listen on its address (port in use, address not local); pick another --port or --host.',
    retriable: false,
  },
  EXTENTLOG_ERR_LOG_BROKER_MALFORMED_REQUEST: {
    summary:
      'A client sent a request the broker cannot decode; the broker closed that connection. Check the client version against the supported API versions.',
    retriable: false,
  },
  EXTENTLOG_ERR_LOG_BROKER_UNSUPPORTED_REQUEST: {
    summary:
      'A client sent an API key or version the broker does not speak; the broker closed that connection. Use a client that negotiates versions with ApiVersions.',
    retriable: false,
  },
  EXTENTLOG_ERR_LOG_BROKER_REQUEST_TOO_LARGE: {
    summary:
      'A client sent a frame larger than the broker accepts; the broker closed that connection. Raise maxRequestBytes or send smaller batches.',
    retriable: false,
  },
  EXTENTLOG_ERR_LOG_BROKER_UNAUTHENTICATED_REQUEST: {
    summary:
      'A client sent a request before completing SASL authentication; the broker closed that connection. Configure the client with SASL credentials.',
    retriable: false,
  },
} as const satisfies ErrorCodeTable;

export class LogError extends defineErrorArea('LogError', LOG_ERRORS) {}
