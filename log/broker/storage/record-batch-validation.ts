/**
 * Checks of magic-2 record batches: what a Produce entry must satisfy before the store
 * assigns offsets (Kafka's LogValidator rules that need no record parsing), and what a
 * stored batch must satisfy to be served after a crash (recovery stops at the first
 * batch that does not).
 */
import {
  BATCH_HEADER_BYTES,
  BATCH_LENGTH_WITHOUT_RECORDS,
  computeBatchCrc,
  CONTROL_FLAG,
  readBatchHeader,
  TRANSACTIONAL_FLAG,
  type BatchHeader,
} from './record-batch-header.js';
import { StoreError } from './errors.js';

export interface ProducedEntryContext {
  readonly topic: string;
  readonly partition: number;
  readonly maxMessageBytes: number;
}

/**
 * Validates the batches of one Produce partition entry (they must tile `entry` exactly)
 * and returns their headers. Throws `StoreError` naming the batch's byte position.
 */
export function validateProducedEntry(entry: Buffer, context: ProducedEntryContext): BatchHeader[] {
  const where = `${context.topic}-${context.partition}`;
  const corrupt = (position: number, problem: string) =>
    new StoreError(
      'CORRUPT_MESSAGE',
      `record batch at byte ${position} of the produce entry for ${where}: ${problem}`,
      { topic: context.topic, partition: context.partition, positionBytes: position },
    );
  if (entry.length === 0) throw corrupt(0, 'the entry holds no record batch');
  const headers: BatchHeader[] = [];
  let position = 0;
  while (position < entry.length) {
    const remaining = entry.length - position;
    if (remaining < BATCH_HEADER_BYTES)
      throw corrupt(
        position,
        `expected a ${BATCH_HEADER_BYTES}-byte header, received ${remaining} bytes`,
      );
    const header = readBatchHeader(entry, position);
    if (header.magic !== 2)
      throw header.magic === 0 || header.magic === 1
        ? new StoreError(
            'UNSUPPORTED_FOR_MESSAGE_FORMAT',
            `record batch at byte ${position} of the produce entry for ${where} has magic ${header.magic}; this broker stores magic 2 only (Produce v3+, Kafka clients ≥ 0.11)`,
            { topic: context.topic, partition: context.partition, positionBytes: position },
          )
        : corrupt(position, `expected magic 2, received ${header.magic}`);
    if (header.batchLength < BATCH_LENGTH_WITHOUT_RECORDS)
      throw corrupt(
        position,
        `batchLength ${header.batchLength} is below the ${BATCH_LENGTH_WITHOUT_RECORDS} bytes of the header it counts`,
      );
    if (header.sizeBytes > remaining)
      throw corrupt(
        position,
        `batchLength ${header.batchLength} declares ${header.sizeBytes} bytes but ${remaining} remain in the entry`,
      );
    if (header.sizeBytes > context.maxMessageBytes)
      throw new StoreError(
        'MESSAGE_TOO_LARGE',
        `record batch at byte ${position} of the produce entry for ${where} is ${header.sizeBytes} bytes, above the topic's max.message.bytes ${context.maxMessageBytes}; send smaller batches or raise max.message.bytes`,
        {
          topic: context.topic,
          partition: context.partition,
          positionBytes: position,
          sizeBytes: header.sizeBytes,
        },
      );
    const crc = computeBatchCrc(entry, position, header.sizeBytes);
    if (crc !== header.crc)
      throw corrupt(
        position,
        `CRC-32C mismatch: header says 0x${hex(header.crc)}, bytes 21..${header.sizeBytes} give 0x${hex(crc)}`,
      );
    if (header.recordCount < 1)
      throw corrupt(position, `expected recordCount ≥ 1, received ${header.recordCount}`);
    if (header.lastOffsetDelta !== header.recordCount - 1)
      throw corrupt(
        position,
        `lastOffsetDelta ${header.lastOffsetDelta} does not match recordCount ${header.recordCount} (expected ${header.recordCount - 1})`,
      );
    if ((header.attributes & (TRANSACTIONAL_FLAG | CONTROL_FLAG)) !== 0)
      throw new StoreError(
        'UNSUPPORTED_FOR_MESSAGE_FORMAT',
        `record batch at byte ${position} of the produce entry for ${where} is transactional or a control batch (attributes 0x${header.attributes.toString(16)}); this broker does not support transactions`,
        { topic: context.topic, partition: context.partition, positionBytes: position },
      );
    if (header.producerId >= 0 && (header.baseSequence < 0 || header.producerEpoch < 0))
      throw corrupt(
        position,
        `idempotent batch of producer ${header.producerId} has baseSequence ${header.baseSequence} and epoch ${header.producerEpoch}; both must be ≥ 0`,
      );
    headers.push(header);
    position += header.sizeBytes;
  }
  return headers;
}

/**
 * Why a batch read back from a segment must not be served, or null when it is sound.
 * `bytesAvailable` counts from the batch start to the end of the file; `minBaseOffset` is
 * the offset the batch must not go below (offsets grow; compaction leaves gaps).
 */
export function storedBatchDefect(
  header: BatchHeader,
  bytesAvailable: number,
  minBaseOffset: number,
): string | null {
  if (header.batchLength < BATCH_LENGTH_WITHOUT_RECORDS)
    return `batchLength ${header.batchLength} is below ${BATCH_LENGTH_WITHOUT_RECORDS}`;
  if (header.sizeBytes > bytesAvailable)
    return `batch of ${header.sizeBytes} bytes but only ${bytesAvailable} remain (torn write)`;
  if (header.magic !== 2) return `magic ${header.magic}, expected 2`;
  if (header.baseOffset < minBaseOffset)
    return `baseOffset ${header.baseOffset} is below the expected ${minBaseOffset}`;
  if (header.lastOffsetDelta < 0 || header.recordCount < 0)
    return `lastOffsetDelta ${header.lastOffsetDelta} / recordCount ${header.recordCount} is negative`;
  return null;
}

/** Whether the complete batch at `position` in `buffer` carries a correct CRC-32C. */
export function batchCrcMatches(buffer: Buffer, position: number, header: BatchHeader): boolean {
  return computeBatchCrc(buffer, position, header.sizeBytes) === header.crc;
}

function hex(value: number): string {
  return value.toString(16).padStart(8, '0');
}
