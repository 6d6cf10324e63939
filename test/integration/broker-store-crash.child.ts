/**
 * Child process of the store crash test: opens the store, then appends idempotent acks=all
 * batches to every partition (two in flight per partition, so fsyncs are shared) and prints
 * each acknowledgement, until the parent kills it with SIGKILL.
 *   node broker-store-crash.child.js <dataDir> <trial>
 */
import process from 'node:process';
import { openBrokerStore } from '../../log/broker/storage/index.js';
import {
  crashBatch,
  CRASH_PARTITIONS,
  CRASH_SEGMENT_BYTES,
  CRASH_TOPIC,
  formatAck,
} from '../support/crash-workload.js';

const IN_FLIGHT_PER_PARTITION = 2;

async function main(): Promise<void> {
  const [dataDir, trialText] = process.argv.slice(2);
  if (dataDir === undefined || trialText === undefined) throw new Error('usage: <dataDir> <trial>');
  const trial = Number(trialText);
  const store = await openBrokerStore({ dataDir });
  if (store.topic(CRASH_TOPIC) === undefined)
    await store.createTopic(CRASH_TOPIC, CRASH_PARTITIONS, {
      segmentBytes: CRASH_SEGMENT_BYTES,
      maxMessageBytes: 1 << 20,
    });
  process.stdout.write('ready\n');
  await Promise.all(
    Array.from({ length: CRASH_PARTITIONS }, async (_, partition) => {
      const log = store.partition(CRASH_TOPIC, partition);
      if (log === undefined) throw new Error(`partition ${partition} missing`);
      const { producerId } = await store.allocateProducerId();
      let nextSequence = 0;
      const lane = async () => {
        for (;;) {
          const sequence = nextSequence;
          nextSequence += 1;
          const { baseOffset } = await log.append(
            crashBatch(trial, partition, sequence, producerId),
            { durable: true },
          );
          process.stdout.write(formatAck(partition, producerId, sequence, baseOffset));
        }
      };
      await Promise.all(Array.from({ length: IN_FLIGHT_PER_PARTITION }, lane));
    }),
  );
}

main().catch((error: unknown) => {
  process.stderr.write(
    `${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exit(1);
});
