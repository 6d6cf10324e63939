/**
 * InitProducerId (api key 22), versions 0–1 (v2+ is flexible):
 *
 *   InitProducerId Request => transactional_id (NULLABLE_STRING) transaction_timeout_ms
 *
 *   InitProducerId Response => throttle_time_ms error_code producer_id (INT64) producer_epoch (INT16)
 */
import type { Reader } from './reader.js';
import type { Writer } from './writer.js';

export interface InitProducerIdRequest {
  readonly transactionalId: string | null;
  readonly transactionTimeoutMs: number;
}

export interface InitProducerIdResponse {
  readonly errorCode: number;
  readonly producerId: number;
  readonly producerEpoch: number;
}

export function decodeInitProducerIdRequest(
  reader: Reader,
  _version: number,
): InitProducerIdRequest {
  return { transactionalId: reader.nullableString(), transactionTimeoutMs: reader.int32() };
}

export function encodeInitProducerIdResponse(
  writer: Writer,
  _version: number,
  response: InitProducerIdResponse,
): void {
  writer
    .int32(0)
    .int16(response.errorCode)
    .int64(response.producerId)
    .int16(response.producerEpoch);
}
