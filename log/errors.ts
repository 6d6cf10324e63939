/** Errors of the log area: talking to Kafka (or the embedded broker) through the log port. */
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
} as const satisfies ErrorCodeTable;

export class LogError extends defineErrorArea('LogError', LOG_ERRORS) {}
