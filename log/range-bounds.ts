/**
 * The offsets a range read covers, checked against the partition's log before any driver
 * starts reading: `[fromOffset, toOffset)`, with `toOffset` clamped to the end offset at the
 * time of the call.
 */
import { LogError } from './errors.js';
import type { LogAdmin, ReadRangeOptions } from './log-client.js';

export interface RangeBounds {
  readonly fromOffset: number;
  /** Exclusive. */
  readonly toOffset: number;
}

/** Null when the range is empty; throws naming the topic when it cannot be read. */
export async function rangeBounds(
  admin: LogAdmin,
  options: ReadRangeOptions,
): Promise<RangeBounds | null> {
  const { topic, partition, fromOffset } = options;
  const bounds = (await admin.offsets(topic)).find((entry) => entry.partition === partition);
  if (bounds === undefined) {
    throw new LogError('EXTENTLOG_ERR_LOG_TOPIC', `topic ${topic} has no partition ${partition}`, {
      details: { topic, partition },
    });
  }
  const toOffset = Math.min(options.toOffset ?? bounds.endOffset, bounds.endOffset);
  if (fromOffset < bounds.startOffset) {
    throw new LogError(
      'EXTENTLOG_ERR_LOG_OFFSET_OUT_OF_RANGE',
      `${topic}[${partition}] starts at offset ${bounds.startOffset} (retention removed older records); offset ${fromOffset} was requested`,
      { details: { topic, partition, fromOffset, startOffset: bounds.startOffset } },
    );
  }
  return fromOffset >= toOffset ? null : { fromOffset, toOffset };
}
