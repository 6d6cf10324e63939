/**
 * Errors of the log area: Kafka access and the embedded broker. Kafka protocol error codes
 * the broker returns to clients are not these: they live in `broker/protocol/error-codes.ts`.
 */
import { defineErrorArea, type ErrorCodeTable } from '../errors/extentlog-error.js';

export const LOG_ERRORS = {
  EXTENTLOG_ERR_LOG_CONFIG: {
    summary:
      'The Kafka connection settings are invalid (brokers, SASL, TLS); the message names the setting.',
    retriable: false,
  },
  EXTENTLOG_ERR_LOG_CONNECT: {
    summary:
      'No broker of kafka.brokers could be reached; check the addresses and that the broker runs.',
    retriable: true,
  },
  EXTENTLOG_ERR_LOG_AUTH: {
    summary: 'The broker refused the SASL credentials or the TLS handshake failed.',
    retriable: false,
  },
  EXTENTLOG_ERR_LOG_PRODUCE: {
    summary:
      'A produce request failed after retries; nothing after the failed send is acknowledged.',
    retriable: true,
  },
  EXTENTLOG_ERR_LOG_PRODUCER_CLOSED: {
    summary: 'A send was attempted after the producer was closed or failed.',
    retriable: false,
  },
  EXTENTLOG_ERR_LOG_RECORD_TOO_LARGE: {
    summary: 'A record is larger than the topic accepts (max.message.bytes); lower maxRecordBytes.',
    retriable: false,
  },
  EXTENTLOG_ERR_LOG_TOPIC: {
    summary: 'A topic could not be created, grown or described; the message names the topic.',
    retriable: true,
  },
  EXTENTLOG_ERR_LOG_CONSUME: {
    summary:
      'The consumer failed to fetch or to commit offsets; the message names the group and partition.',
    retriable: true,
  },
  EXTENTLOG_ERR_LOG_OFFSET_OUT_OF_RANGE: {
    summary: 'The requested offset is no longer (or not yet) in the log: retention removed it.',
    retriable: false,
  },
  EXTENTLOG_ERR_LOG_DRIVER_NOT_INSTALLED: {
    summary:
      'The librdkafka log driver was chosen but its package is not installed or does not load; run scripts/setup.sh --librdkafka, or choose logDriver: kafkajs.',
    retriable: false,
  },
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
