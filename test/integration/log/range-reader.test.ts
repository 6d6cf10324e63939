/**
 * `LogClient.readRange` against the embedded broker: a caller may stop reading early
 * (`break`, `return`, a throw) and the reader still lets go of its consumer and group.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createLogClient } from '../../../log/client-factory.js';
import { silentLogger } from '../../support/silent-logger.js';
import { startTestBroker } from '../../support/test-broker.js';

/** Rejects when `work` has not settled by the deadline: a hang fails the test instead. */
async function within<T>(what: string, timeoutMs: number, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`${what} did not finish in ${timeoutMs} ms`)),
      timeoutMs,
    );
  });
  try {
    return await Promise.race([work, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

test('stopping a range read early releases the batch in hand', async (t) => {
  const broker = await startTestBroker((fn) => t.after(fn));
  const log = await createLogClient({
    connection: { brokers: [broker.address], clientId: 'range-reader-test' },
    logger: silentLogger,
    replicationFactor: 1,
  });
  t.after(() => log.close());
  const topic = 'range-reader-early-stop';
  await log.admin.ensureTopic({ topic, partitions: 1 });
  const producer = await log.producer({});
  await producer.send(
    topic,
    0,
    Array.from({ length: 10 }, (_, index) => ({
      key: Buffer.from('disk-0'),
      value: Buffer.from(`record ${index}`),
    })),
  );
  await producer.close();

  const firstOf = async (fromOffset: number) => {
    for await (const message of log.readRange({ topic, partition: 0, fromOffset, toOffset: 10 }))
      return message.value?.toString();
    return undefined;
  };
  assert.equal(await within('an early return', 30_000, firstOf(9)), 'record 9');
  assert.equal(await within('an early return mid-batch', 30_000, firstOf(3)), 'record 3');
  const thrown = (async () => {
    for await (const message of log.readRange({ topic, partition: 0, fromOffset: 0 }))
      throw new Error(`stop at ${message.offset}`);
  })();
  await within('a throw', 30_000, assert.rejects(thrown, /stop at 0/));
  let count = 0;
  for await (const _message of log.readRange({ topic, partition: 0, fromOffset: 0 })) count++;
  assert.equal(count, 10, 'a full read still sees every record afterwards');
});
