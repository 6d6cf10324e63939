/**
 * Fetch long polls: a fetch waits until min_bytes are there or max_wait_ms passes, wakes
 * when a producer appends, and does not spin while data below min_bytes sits there.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import type { PartitionLog } from '../../../log/broker/storage/store.js';
import { connectWire } from '../../support/kafkajs-wire.js';
import { buildBatch } from '../../support/magic2-batch.js';
import { startTestBroker } from '../../support/test-broker.js';

const broker = await startTestBroker(after);
const wire = await connectWire(broker.host, broker.port);
after(() => wire.close());

interface FetchResponse {
  responses: { partitions: { errorCode: number; highWatermark: string; messages: unknown[] }[] }[];
}

const fetchArgs = (topic: string, fetchOffset: number, minBytes: number, maxWaitTime: number) => ({
  replicaId: -1,
  maxWaitTime,
  minBytes,
  maxBytes: 1024 * 1024,
  topics: [
    {
      topic,
      partitions: [{ partition: 0, fetchOffset: String(fetchOffset), maxBytes: 1024 * 1024 }],
    },
  ],
});

/** Counts the reads the broker makes of a partition (a spy on our own port). */
function countReads(log: PartitionLog): () => number {
  let reads = 0;
  const read = log.read.bind(log);
  log.read = (offset, maxBytes) => {
    reads += 1;
    return read(offset, maxBytes);
  };
  return () => reads;
}

test('a fetch below min_bytes waits for max_wait_ms without re-reading in a loop', async () => {
  await broker.store.createTopic('trickle', 1, {});
  const log = broker.store.partition('trickle', 0) as PartitionLog;
  await log.append(buildBatch({ records: [{ key: null, value: Buffer.from('small') }] }), {
    durable: true,
  });
  const reads = countReads(log);
  const response = await wire.send<FetchResponse>(
    'Fetch',
    11,
    fetchArgs('trickle', 0, 1024 * 1024, 300),
  );
  assert.equal(response.responses[0]?.partitions[0]?.messages.length, 1);
  assert.ok(reads() <= 3, `${reads()} reads during one long poll`);
});

test('a waiting fetch wakes when a record is appended', { timeout: 20_000 }, async () => {
  await broker.store.createTopic('wake', 1, {});
  const log = broker.store.partition('wake', 0) as PartitionLog;
  // max_wait_ms is far beyond this test's timeout: only the append can end the wait in time.
  const pending = wire.send<FetchResponse>('Fetch', 11, fetchArgs('wake', 0, 1, 120_000));
  await log.append(buildBatch({ records: [{ key: null, value: Buffer.from('wake up') }] }), {
    durable: true,
  });
  const response = await pending;
  assert.equal(response.responses[0]?.partitions[0]?.messages.length, 1);
  assert.equal(response.responses[0]?.partitions[0]?.highWatermark, '1');
});
