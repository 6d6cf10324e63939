/**
 * The restore-point writer against the embedded broker and registry: its producer starts
 * when the writer is made (not at the first restore point), and a producer that failed to
 * start is started again by the next publish.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createRestorePointWriter, readRestorePoints } from '../../consumers/restore-points.js';
import { createLogClient } from '../../log/client-factory.js';
import { LogError } from '../../log/errors.js';
import type { LogClient } from '../../log/log-client.js';
import type { RestorePoint } from '../../schemas/restore-point.js';
import { createRestorePointCodec } from '../../schemas/restore-point-codec.js';
import { valueSubject } from '../../schemas/subject-name.js';
import { silentLogger } from '../support/silent-logger.js';
import { startTestBroker } from '../support/test-broker.js';
import { startTestRegistry } from '../support/test-registry.js';

const point: RestorePoint = {
  target: 'lun-a',
  feed: 'feed-a',
  disk: 'disk-0',
  epoch: 3,
  sourceReference: 'snap-3',
  digest: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
  diskSizeBytes: 2 ** 30,
  committedAtMs: 1_700_000_000_000,
  durableAtMs: 1_700_000_000_100,
  location: null,
};

test('the writer starts its producer at once, and again after a failed start', async (t) => {
  const broker = await startTestBroker((fn) => t.after(fn));
  const registry = await startTestRegistry((fn) => t.after(fn));
  const log = await createLogClient({
    connection: { brokers: [broker.address], clientId: 'writer-test' },
    logger: silentLogger,
  });
  t.after(() => log.close());
  const topic = 'test.restore-points';
  await log.admin.ensureTopic({ topic, partitions: 1, cleanupPolicy: 'compact' });
  const codec = createRestorePointCodec({
    registry: registry.client(),
    subject: valueSubject(topic),
  });
  await codec.register();

  // The real client, except that the first producer it is asked for fails to start.
  let producersAsked = 0;
  const flaky: LogClient = {
    admin: log.admin,
    producer: (options) => {
      producersAsked += 1;
      return producersAsked === 1
        ? Promise.reject(new LogError('EXTENTLOG_ERR_LOG_CONNECT', 'broker 127.0.0.1:9 refused'))
        : log.producer(options);
    },
    consumer: (options) => log.consumer(options),
    readRange: (options) => log.readRange(options),
    close: () => log.close(),
  };
  const writer = createRestorePointWriter({ log: flaky, topic, codec });
  t.after(() => writer.close());
  assert.equal(producersAsked, 1, 'the producer is started with the writer');
  await assert.rejects(writer.publish(point), /broker 127\.0\.0\.1:9 refused/);
  await writer.publish(point);
  await writer.publish({ ...point, epoch: 4 });
  assert.equal(producersAsked, 2, 'one new producer after the failed start, kept afterwards');
  const points = await readRestorePoints({ log, topic, codec });
  assert.deepEqual([...points.values()], [{ ...point, epoch: 4 }]);
});
