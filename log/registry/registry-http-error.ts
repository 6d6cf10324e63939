/**
 * Errors answered to registry clients, with Confluent Schema Registry's status codes and
 * body `{"error_code": <int>, "message": <string>}` (Confluent API reference, "Errors"), so
 * that its clients map them as they would against Confluent's server.
 */

export const CONFLUENT_ERRORS = {
  SUBJECT_NOT_FOUND: { status: 404, errorCode: 40401 },
  VERSION_NOT_FOUND: { status: 404, errorCode: 40402 },
  SCHEMA_NOT_FOUND: { status: 404, errorCode: 40403 },
  SUBJECT_SOFT_DELETED: { status: 404, errorCode: 40404 },
  SUBJECT_NOT_SOFT_DELETED: { status: 404, errorCode: 40405 },
  VERSION_SOFT_DELETED: { status: 404, errorCode: 40406 },
  VERSION_NOT_SOFT_DELETED: { status: 404, errorCode: 40407 },
  SUBJECT_CONFIG_NOT_FOUND: { status: 404, errorCode: 40408 },
  INCOMPATIBLE_SCHEMA: { status: 409, errorCode: 409 },
  INVALID_SCHEMA: { status: 422, errorCode: 42201 },
  INVALID_VERSION: { status: 422, errorCode: 42202 },
  INVALID_COMPATIBILITY_LEVEL: { status: 422, errorCode: 42203 },
  UNPROCESSABLE: { status: 422, errorCode: 422 },
  BAD_REQUEST: { status: 400, errorCode: 400 },
  NOT_FOUND: { status: 404, errorCode: 404 },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, errorCode: 415 },
  STORE_ERROR: { status: 500, errorCode: 50001 },
} as const;

export type ConfluentErrorKind = keyof typeof CONFLUENT_ERRORS;

export class RegistryHttpError extends Error {
  readonly status: number;
  readonly errorCode: number;

  constructor(kind: ConfluentErrorKind, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RegistryHttpError';
    this.status = CONFLUENT_ERRORS[kind].status;
    this.errorCode = CONFLUENT_ERRORS[kind].errorCode;
  }

  body(): { error_code: number; message: string } {
    return { error_code: this.errorCode, message: this.message };
  }
}
