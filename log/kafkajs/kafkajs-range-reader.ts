/**
 * Reads one partition from an offset to an end offset without a lasting consumer group.
 *
 * kafkajs has no manual partition assignment, so the reader joins a throw-away group whose
 * only member is assigned exactly the requested partition by a custom assigner, seeks, and
 * deletes the group when done. Batches are handed over one at a time: kafkajs does not
 * fetch again until the caller has taken the previous batch.
 */
import { randomUUID } from 'node:crypto';
import type { Kafka, PartitionAssigner } from 'kafkajs';
import { LogError } from '../errors.js';
import type { ConsumedMessage, ReadRangeOptions } from '../log-client.js';
import { rangeBounds } from '../range-bounds.js';
import type { KafkajsAdmin } from './kafkajs-admin.js';
import { toConsumedMessage } from './kafkajs-consumer.js';
import { kafkajs } from './load-kafkajs.js';

function singlePartitionAssigner(topic: string, partition: number): PartitionAssigner {
  return () => ({
    name: 'extentlog-single-partition',
    version: 1,
    async assign({ members }) {
      return members.map((member, index) => ({
        memberId: member.memberId,
        memberAssignment: kafkajs.AssignerProtocol.MemberAssignment.encode({
          version: 1,
          assignment: index === 0 ? { [topic]: [partition] } : {},
          userData: Buffer.alloc(0),
        }),
      }));
    },
    protocol({ topics }) {
      return {
        name: 'extentlog-single-partition',
        metadata: kafkajs.AssignerProtocol.MemberMetadata.encode({
          version: 1,
          topics,
          userData: Buffer.alloc(0),
        }),
      };
    },
  });
}

type Item =
  { messages: ConsumedMessage[]; lastOffset: number; taken: () => void } | { error: unknown };

export async function* readRange(
  kafka: Kafka,
  admin: KafkajsAdmin,
  options: ReadRangeOptions,
): AsyncGenerator<ConsumedMessage, void, undefined> {
  const { topic, partition } = options;
  const range = await rangeBounds(admin, options);
  if (range === null) return;
  const { fromOffset, toOffset } = range;

  const groupId = `extentlog-reader-${randomUUID()}`;
  const consumer = kafka.consumer({
    groupId,
    partitionAssigners: [singlePartitionAssigner(topic, partition)],
    maxWaitTimeInMs: 200,
    retry: { retries: 5 },
  });
  const pending: Item[] = [];
  let current: Item | null = null;
  let wake: (() => void) | null = null;
  const push = (item: Item) => {
    pending.push(item);
    wake?.();
  };
  consumer.on(consumer.events.CRASH, (event) => push({ error: event.payload.error }));
  try {
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: false });
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch, isStale }) => {
        if (isStale() || batch.partition !== partition) return;
        const messages = batch.messages
          .map((message) => toConsumedMessage(topic, partition, message))
          .filter((message) => message.offset >= fromOffset && message.offset < toOffset);
        const lastOffset = Number(batch.lastOffset());
        await new Promise<void>((taken) => push({ messages, lastOffset, taken }));
      },
    });
    consumer.seek({ topic, partition, offset: String(fromOffset) });
    let next = fromOffset;
    while (next < toOffset) {
      while (pending.length === 0) await new Promise<void>((resolve) => (wake = resolve));
      wake = null;
      const item = pending.shift()!;
      current = item;
      if ('error' in item) {
        throw new LogError(
          'EXTENTLOG_ERR_LOG_CONSUME',
          `reading ${topic}[${partition}] failed: ${(item.error as Error).message}`,
          {
            cause: item.error,
            details: { topic, partition },
          },
        );
      }
      for (const message of item.messages) {
        if (message.offset < next) continue;
        next = message.offset + 1;
        yield message;
        if (next >= toOffset) break;
      }
      // Compaction leaves offset gaps: the batch's last offset, not its last message, says how far we got.
      next = Math.max(next, item.lastOffset + 1);
      item.taken();
      current = null;
    }
  } finally {
    // A caller that stops early (break/return) leaves the batch it was reading untaken:
    // release it too, or kafkajs's disconnect waits for that eachBatch forever.
    if (current !== null && 'taken' in current) current.taken();
    for (const item of pending.splice(0)) if ('taken' in item) item.taken();
    await consumer.disconnect().catch(() => undefined);
    await admin.deleteGroup(groupId).catch(() => undefined);
  }
}
