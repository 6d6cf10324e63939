/** Translates a failure inside a handler into the Kafka error code the client should see. */
import { errorCode } from '../protocol/error-codes.js';
import { StoreError } from '../storage/store.js';

export function kafkaErrorOf(error: unknown): number {
  return error instanceof StoreError ? error.kafkaErrorCode : errorCode('UNKNOWN_SERVER_ERROR');
}
