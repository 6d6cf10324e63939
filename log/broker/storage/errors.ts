/**
 * Errors of the embedded broker's storage engine. Each code mirrors the Kafka protocol
 * error the store reports (the Kafka numbers are in `KAFKA_ERROR_CODES`), so the protocol
 * layer translates a `StoreError` into a response by table lookup.
 * `retriable` follows Kafka's classification of the same error.
 */
import {
  defineErrorArea,
  type ErrorCodeTable,
  type ExtentlogErrorOptions,
} from '../../../errors/extentlog-error.js';

export const STORE_ERRORS = {
  EXTENTLOG_ERR_STORE_OFFSET_OUT_OF_RANGE: {
    summary: 'a fetch asked for an offset outside [log start, high watermark]',
    retriable: false,
  },
  EXTENTLOG_ERR_STORE_CORRUPT_MESSAGE: {
    summary: 'a record batch failed validation (lengths, CRC-32C, offsets)',
    retriable: true,
  },
  EXTENTLOG_ERR_STORE_UNKNOWN_TOPIC_OR_PARTITION: {
    summary: 'the topic or partition does not exist (or is being deleted)',
    retriable: true,
  },
  EXTENTLOG_ERR_STORE_MESSAGE_TOO_LARGE: {
    summary: 'a record batch is larger than the topic max.message.bytes',
    retriable: false,
  },
  EXTENTLOG_ERR_STORE_INVALID_TOPIC_EXCEPTION: {
    summary: 'the topic name is not a legal Kafka topic name',
    retriable: false,
  },
  EXTENTLOG_ERR_STORE_TOPIC_ALREADY_EXISTS: {
    summary: 'a topic of that name (or one colliding on . and _) exists',
    retriable: false,
  },
  EXTENTLOG_ERR_STORE_INVALID_PARTITIONS: {
    summary: 'the partition count is not a positive integer or would shrink the topic',
    retriable: false,
  },
  EXTENTLOG_ERR_STORE_INVALID_REPLICATION_FACTOR: {
    summary: 'a single-node broker only accepts replication factor 1',
    retriable: false,
  },
  EXTENTLOG_ERR_STORE_INVALID_CONFIG: {
    summary: 'a topic config name or value is not accepted',
    retriable: false,
  },
  EXTENTLOG_ERR_STORE_UNSUPPORTED_FOR_MESSAGE_FORMAT: {
    summary: 'the batch uses a record format the store does not keep (magic 0/1, transactions)',
    retriable: false,
  },
  EXTENTLOG_ERR_STORE_OUT_OF_ORDER_SEQUENCE_NUMBER: {
    summary: 'an idempotent producer skipped or reordered sequence numbers',
    retriable: false,
  },
  EXTENTLOG_ERR_STORE_INVALID_PRODUCER_EPOCH: {
    summary: 'a producer with an older epoch than the partition has seen (fenced)',
    retriable: false,
  },
  EXTENTLOG_ERR_STORE_UNKNOWN_PRODUCER_ID: {
    summary:
      'the store has no state for the producer id and the batch does not start at sequence 0',
    retriable: false,
  },
  EXTENTLOG_ERR_STORE_KAFKA_STORAGE_ERROR: {
    summary: 'a disk operation failed; the partition is offline until the store is reopened',
    retriable: true,
  },
} as const satisfies ErrorCodeTable;

/** The Kafka protocol error numbers of the store's error codes. */
export const KAFKA_ERROR_CODES = {
  OFFSET_OUT_OF_RANGE: 1,
  CORRUPT_MESSAGE: 2,
  UNKNOWN_TOPIC_OR_PARTITION: 3,
  MESSAGE_TOO_LARGE: 10,
  INVALID_TOPIC_EXCEPTION: 17,
  TOPIC_ALREADY_EXISTS: 36,
  INVALID_PARTITIONS: 37,
  INVALID_REPLICATION_FACTOR: 38,
  INVALID_CONFIG: 40,
  UNSUPPORTED_FOR_MESSAGE_FORMAT: 43,
  OUT_OF_ORDER_SEQUENCE_NUMBER: 45,
  INVALID_PRODUCER_EPOCH: 47,
  KAFKA_STORAGE_ERROR: 56,
  UNKNOWN_PRODUCER_ID: 59,
} as const;

export type StoreErrorCode = keyof typeof KAFKA_ERROR_CODES;

class StoreErrorArea extends defineErrorArea('StoreError', STORE_ERRORS) {}

/** A store failure carrying the Kafka error the protocol layer answers with. */
export class StoreError extends StoreErrorArea {
  /** The Kafka protocol error number (`KAFKA_ERROR_CODES[kafkaError]`). */
  readonly kafkaErrorCode: number;

  constructor(
    readonly kafkaError: StoreErrorCode,
    message: string,
    details: Readonly<Record<string, unknown>> = {},
    options: Pick<ExtentlogErrorOptions, 'cause'> = {},
  ) {
    super(`EXTENTLOG_ERR_STORE_${kafkaError}`, message, { ...options, details });
    this.kafkaErrorCode = KAFKA_ERROR_CODES[kafkaError];
  }
}
