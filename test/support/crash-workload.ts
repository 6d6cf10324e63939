/**
 * The workload of the store crash test, shared by the child that runs it and the parent
 * that checks what survived: deterministic batches per (trial, partition, sequence).
 */
import { filledBatch } from './magic2-batch.js';

export const CRASH_TOPIC = 'crash';
export const CRASH_PARTITIONS = 2;
export const CRASH_SEGMENT_BYTES = 256 * 1024;
export const CRASH_RECORDS_PER_BATCH = 3;

/** Sizes cycle through small and large so kills land in every kind of write and roll. */
export function crashBatch(
  trial: number,
  partition: number,
  sequence: number,
  producerId: number,
): Buffer {
  const valueBytes = [200, 30_000, 2_000, 80_000][sequence % 4] ?? 200;
  return filledBatch(
    trial * 1000 + partition * 100 + sequence,
    CRASH_RECORDS_PER_BATCH,
    valueBytes,
    {
      producerId,
      producerEpoch: 0,
      baseSequence: sequence * CRASH_RECORDS_PER_BATCH,
      baseTimestampMs: 1_700_000_000_000 + trial,
    },
  );
}

/** One line per acknowledged append: `ack <partition> <producerId> <sequence> <baseOffset>`. */
export function formatAck(
  partition: number,
  producerId: number,
  sequence: number,
  baseOffset: number,
): string {
  return `ack ${partition} ${producerId} ${sequence} ${baseOffset}\n`;
}

export interface Ack {
  readonly partition: number;
  readonly producerId: number;
  readonly sequence: number;
  readonly baseOffset: number;
}

export function parseAck(line: string): Ack | null {
  const match = /^ack (\d+) (\d+) (\d+) (\d+)$/.exec(line.trim());
  if (match === null) return null;
  const [, partition, producerId, sequence, baseOffset] = match.map(Number);
  return {
    partition: partition!,
    producerId: producerId!,
    sequence: sequence!,
    baseOffset: baseOffset!,
  };
}
