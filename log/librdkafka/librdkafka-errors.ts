/**
 * librdkafka error codes (rdkafkacpp.h `RdKafka::ErrorCode`: negative codes are the
 * client's own, positive ones are Kafka protocol error codes) translated to the log area's
 * codes. Codes not in the table take the operation's code, and librdkafka's own retriable
 * flag when it gives one.
 */
import { LogError, type LOG_ERRORS } from '../errors.js';

type LogErrorCode = keyof typeof LOG_ERRORS;

interface Translation {
  readonly name: string;
  readonly code: LogErrorCode;
  readonly retriable: boolean;
}

const TRANSLATIONS: ReadonlyMap<number, Translation> = new Map(
  (
    [
      // Connectivity: librdkafka reconnects by itself; an operation failing on these timed out.
      [-195, '_TRANSPORT', 'EXTENTLOG_ERR_LOG_CONNECT', true],
      [-193, '_RESOLVE', 'EXTENTLOG_ERR_LOG_CONNECT', true],
      [-187, '_ALL_BROKERS_DOWN', 'EXTENTLOG_ERR_LOG_CONNECT', true],
      [8, 'BROKER_NOT_AVAILABLE', 'EXTENTLOG_ERR_LOG_CONNECT', true],
      [13, 'NETWORK_EXCEPTION', 'EXTENTLOG_ERR_LOG_CONNECT', true],
      // Credentials and TLS.
      [-169, '_AUTHENTICATION', 'EXTENTLOG_ERR_LOG_AUTH', false],
      [-181, '_SSL', 'EXTENTLOG_ERR_LOG_AUTH', false],
      [58, 'SASL_AUTHENTICATION_FAILED', 'EXTENTLOG_ERR_LOG_AUTH', false],
      [29, 'TOPIC_AUTHORIZATION_FAILED', 'EXTENTLOG_ERR_LOG_AUTH', false],
      [30, 'GROUP_AUTHORIZATION_FAILED', 'EXTENTLOG_ERR_LOG_AUTH', false],
      [31, 'CLUSTER_AUTHORIZATION_FAILED', 'EXTENTLOG_ERR_LOG_AUTH', false],
      // Topics and partitions that are not there.
      [-188, '_UNKNOWN_TOPIC', 'EXTENTLOG_ERR_LOG_TOPIC', false],
      [-190, '_UNKNOWN_PARTITION', 'EXTENTLOG_ERR_LOG_TOPIC', false],
      [3, 'UNKNOWN_TOPIC_OR_PART', 'EXTENTLOG_ERR_LOG_TOPIC', false],
      // Produce.
      [-192, '_MSG_TIMED_OUT', 'EXTENTLOG_ERR_LOG_PRODUCE', true],
      [-184, '_QUEUE_FULL', 'EXTENTLOG_ERR_LOG_PRODUCE', true],
      [-150, '_FATAL', 'EXTENTLOG_ERR_LOG_PRODUCE', true],
      [-148, '_GAPLESS_GUARANTEE', 'EXTENTLOG_ERR_LOG_PRODUCE', true],
      [45, 'OUT_OF_ORDER_SEQUENCE_NUMBER', 'EXTENTLOG_ERR_LOG_PRODUCE', true],
      [47, 'INVALID_PRODUCER_EPOCH', 'EXTENTLOG_ERR_LOG_PRODUCE', true],
      [59, 'UNKNOWN_PRODUCER_ID', 'EXTENTLOG_ERR_LOG_PRODUCE', true],
      [19, 'NOT_ENOUGH_REPLICAS', 'EXTENTLOG_ERR_LOG_PRODUCE', true],
      [20, 'NOT_ENOUGH_REPLICAS_AFTER_APPEND', 'EXTENTLOG_ERR_LOG_PRODUCE', true],
      [56, 'KAFKA_STORAGE_ERROR', 'EXTENTLOG_ERR_LOG_PRODUCE', true],
      [10, 'MSG_SIZE_TOO_LARGE', 'EXTENTLOG_ERR_LOG_RECORD_TOO_LARGE', false],
      [18, 'RECORD_LIST_TOO_LARGE', 'EXTENTLOG_ERR_LOG_RECORD_TOO_LARGE', false],
      [-152, '_PURGE_QUEUE', 'EXTENTLOG_ERR_LOG_PRODUCER_CLOSED', false],
      [-151, '_PURGE_INFLIGHT', 'EXTENTLOG_ERR_LOG_PRODUCER_CLOSED', false],
      // Consume and commit.
      [1, 'OFFSET_OUT_OF_RANGE', 'EXTENTLOG_ERR_LOG_OFFSET_OUT_OF_RANGE', false],
      [-140, '_AUTO_OFFSET_RESET', 'EXTENTLOG_ERR_LOG_OFFSET_OUT_OF_RANGE', false],
      [22, 'ILLEGAL_GENERATION', 'EXTENTLOG_ERR_LOG_CONSUME', true],
      [25, 'UNKNOWN_MEMBER_ID', 'EXTENTLOG_ERR_LOG_CONSUME', true],
      [27, 'REBALANCE_IN_PROGRESS', 'EXTENTLOG_ERR_LOG_CONSUME', true],
      [15, 'COORDINATOR_NOT_AVAILABLE', 'EXTENTLOG_ERR_LOG_CONSUME', true],
      [16, 'NOT_COORDINATOR', 'EXTENTLOG_ERR_LOG_CONSUME', true],
      [-147, '_MAX_POLL_EXCEEDED', 'EXTENTLOG_ERR_LOG_CONSUME', true],
      [-142, '_ASSIGNMENT_LOST', 'EXTENTLOG_ERR_LOG_CONSUME', true],
      // Settings librdkafka rejected.
      [-186, '_INVALID_ARG', 'EXTENTLOG_ERR_LOG_CONFIG', false],
      [-165, '_UNSUPPORTED_FEATURE', 'EXTENTLOG_ERR_LOG_CONFIG', false],
    ] as const
  ).map(([number, name, code, retriable]) => [number, { name, code, retriable }]),
);

/** The table's entry for a librdkafka error code, if it has one (exported for tests). */
export function translationOf(rdkafkaCode: number): Translation | undefined {
  return TRANSLATIONS.get(rdkafkaCode);
}

function rdkafkaCodeOf(error: unknown): number | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}

/**
 * A LogError for a librdkafka failure: `what` says what failed ("produce to t[0]"), the
 * message adds librdkafka's text and code name so operators can look it up.
 */
export function toLogError(
  error: unknown,
  what: string,
  fallback: LogErrorCode,
  details: Readonly<Record<string, unknown>> = {},
): LogError {
  if (error instanceof LogError) return error;
  const rdkafkaCode = rdkafkaCodeOf(error);
  const translation = rdkafkaCode === undefined ? undefined : TRANSLATIONS.get(rdkafkaCode);
  const flagged = (error as { isRetriable?: unknown } | null)?.isRetriable;
  const code = translation?.code ?? fallback;
  const name = translation?.name ?? (rdkafkaCode === undefined ? '' : String(rdkafkaCode));
  const text = error instanceof Error ? error.message : String(error);
  return new LogError(
    code,
    `${what} failed: ${text}${name === '' ? '' : ` (librdkafka ${name})`}`,
    {
      cause: error,
      ...(translation !== undefined
        ? { retriable: translation.retriable }
        : typeof flagged === 'boolean' && flagged
          ? { retriable: true }
          : {}),
      details: { ...details, ...(rdkafkaCode === undefined ? {} : { rdkafkaCode }) },
    },
  );
}
