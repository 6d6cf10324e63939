/**
 * InitProducerId for idempotent producers: a fresh, durable producer id per call.
 * Transactions are not supported, so a transactional id is refused.
 */
import { errorCode } from '../protocol/error-codes.js';
import {
  decodeInitProducerIdRequest,
  encodeInitProducerIdResponse,
} from '../protocol/init-producer-id.js';
import { kafkaErrorOf } from './kafka-error-of.js';
import type { RequestContext } from './request-context.js';

export async function handleInitProducerId({ reader, writer, version, broker }: RequestContext) {
  const request = decodeInitProducerIdRequest(reader, version);
  if (request.transactionalId !== null) {
    encodeInitProducerIdResponse(writer, version, {
      errorCode: errorCode('INVALID_REQUEST'),
      producerId: -1,
      producerEpoch: -1,
    });
    return;
  }
  try {
    const { producerId, producerEpoch } = await broker.store.allocateProducerId();
    encodeInitProducerIdResponse(writer, version, { errorCode: 0, producerId, producerEpoch });
  } catch (error) {
    encodeInitProducerIdResponse(writer, version, {
      errorCode: kafkaErrorOf(error),
      producerId: -1,
      producerEpoch: -1,
    });
  }
}
