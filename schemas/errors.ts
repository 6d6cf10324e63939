/**
 * Errors of the record contract: frames that are not valid Confluent-framed Avro records of
 * our schemas, records that break the contract, and failures talking to the schema registry.
 * Messages give the byte position inside the frame (0 = the magic byte) where one applies.
 */
import { defineErrorArea, type ErrorCodeTable } from '../errors/extentlog-error.js';

export const SCHEMA_ERRORS = {
  EXTENTLOG_ERR_SCHEMA_SHORT_FRAME: {
    summary:
      'a frame is shorter than the 5-byte Confluent header (magic byte + schema id): the value is not a Schema-Registry-framed record',
    retriable: false,
  },
  EXTENTLOG_ERR_SCHEMA_BAD_MAGIC: {
    summary:
      'the first byte of a frame is not the Confluent magic byte 0: the topic holds values not written by a Schema-Registry serializer',
    retriable: false,
  },
  EXTENTLOG_ERR_SCHEMA_UNKNOWN_SCHEMA_ID: {
    summary:
      'the schema id in a frame is unknown to the registry (40403): the consumer points at another registry than the producer did, or the schema was permanently deleted',
    retriable: false,
  },
  EXTENTLOG_ERR_SCHEMA_TRUNCATED_BODY: {
    summary: 'the Avro body ends before the record does: the frame was cut short',
    retriable: false,
  },
  EXTENTLOG_ERR_SCHEMA_TRAILING_BYTES: {
    summary: 'bytes follow the end of the Avro record inside a frame: the frame is corrupt',
    retriable: false,
  },
  EXTENTLOG_ERR_SCHEMA_BAD_UNION_INDEX: {
    summary: 'a union branch index in the Avro body is out of range: the frame is corrupt',
    retriable: false,
  },
  EXTENTLOG_ERR_SCHEMA_BAD_ENUM_INDEX: {
    summary: 'an enum symbol index in the Avro body is out of range: the frame is corrupt',
    retriable: false,
  },
  EXTENTLOG_ERR_SCHEMA_UNSAFE_INTEGER: {
    summary:
      'a long that must be a non-negative safe integer (offset, length, seq, epoch, size, millisecond time) is negative or above 2^53-1',
    retriable: false,
  },
  EXTENTLOG_ERR_SCHEMA_CORRUPT_BODY: {
    summary: 'the Avro body cannot be decoded (e.g. a negative length): the frame is corrupt',
    retriable: false,
  },
  EXTENTLOG_ERR_SCHEMA_INVALID_RECORD: {
    summary:
      'a record breaks the record contract (a field out of range, data on a non-WRITE extent, data length different from lengthBytes, …); the message names the field',
    retriable: false,
  },
  EXTENTLOG_ERR_SCHEMA_UNREADABLE_SCHEMA: {
    summary:
      'a writer schema fetched from the registry cannot be resolved to the reader schema of this version: upgrade the consumer',
    retriable: false,
  },
  EXTENTLOG_ERR_SCHEMA_NOT_REGISTERED: {
    summary: 'encode() was called before register(): register the schema once at start-up',
    retriable: false,
  },
  EXTENTLOG_ERR_SCHEMA_REGISTRY_UNREACHABLE: {
    summary:
      'the schema registry did not answer (connection refused, reset or timed out); retried with back-off — check schemaRegistry.url and that the registry runs',
    retriable: true,
  },
  EXTENTLOG_ERR_SCHEMA_INCOMPATIBLE: {
    summary:
      "the registry refused the schema as incompatible with the subject's earlier versions (409) under its compatibility level",
    retriable: false,
  },
  EXTENTLOG_ERR_SCHEMA_REGISTRY_FAILED: {
    summary:
      'the schema registry answered with an error (the message carries its status, error_code and message); 5xx answers are retried',
    retriable: false,
  },
} as const satisfies ErrorCodeTable;

export type SchemaErrorCode = keyof typeof SCHEMA_ERRORS;

export class SchemaError extends defineErrorArea('SchemaError', SCHEMA_ERRORS) {}
