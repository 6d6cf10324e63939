/**
 * How the log port fails, once per driver: a broker killed while a send waits for its
 * acknowledgement fails that send and every later call, each saying why; sends, consumers
 * and range reads of a topic that does not exist fail naming it.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, test, type TestContext } from 'node:test';
import { createLogClient, type LogDriver } from '../../../log/client-factory.js';
import { LogError } from '../../../log/errors.js';
import type { LogClient } from '../../../log/log-client.js';
import { startBrokerProcess } from '../../support/broker-process.js';
import { silentLogger } from '../../support/silent-logger.js';
import { eventually, startTestBroker } from '../../support/test-broker.js';
import { tempDir } from '../../support/temp-dir.js';

function isLogError(code: string, ...mentions: string[]) {
  return (error: unknown) => {
    assert.ok(error instanceof LogError, `expected a LogError, received ${String(error)}`);
    assert.equal(error.code, code, error.message);
    for (const mention of mentions) assert.ok(error.message.includes(mention), error.message);
    return true;
  };
}

/** Waits until the kernel reports the process stopped (state T), so it can answer nothing. */
async function stopped(pid: number): Promise<void> {
  await eventually(`process ${pid} stopped`, async () => {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('T') ? true : undefined;
  });
}

for (const driver of ['kafkajs', 'librdkafka'] as const satisfies readonly LogDriver[]) {
  describe(`log port failures over ${driver}`, () => {
    async function client(
      t: TestContext,
      address: string,
      deliveryTimeoutMs?: number,
    ): Promise<LogClient> {
      const log = await createLogClient({
        connection: { brokers: [address], clientId: 'failure-test', requestTimeoutMs: 5000 },
        logger: silentLogger,
        driver,
        ...(deliveryTimeoutMs === undefined ? {} : { producer: { deliveryTimeoutMs } }),
      });
      t.after(() => log.close());
      return log;
    }

    test('a broker killed during a send fails it and every later call', async (t) => {
      const dir = await tempDir(t, 'log-broker-killed');
      const broker = await startBrokerProcess({
        dataDir: dir.path,
        port: 0,
        args: ['--log-level', 'warn'],
      });
      dir.beforeRemoval(() => broker.stop());
      const log = await client(t, broker.address, 5000);
      await log.admin.ensureTopic({ topic: 'doomed', partitions: 1 });
      const producer = await log.producer();
      const before = await producer.send('doomed', 0, [{ key: null, value: Buffer.from('a') }]);
      assert.equal(before.baseOffset, 0);

      // Stopped first, so that the next send cannot be acknowledged before the kill.
      process.kill(broker.pid, 'SIGSTOP');
      await stopped(broker.pid);
      const during = producer.send('doomed', 0, [
        { key: Buffer.from('disk-0'), value: Buffer.alloc(256 * 1024, 7) },
      ]);
      process.kill(broker.pid, 'SIGKILL');
      await broker.exited;

      await assert.rejects(during, isLogError('EXTENTLOG_ERR_LOG_PRODUCE', 'doomed'));
      await assert.rejects(
        producer.publish('doomed', 0, [{ key: null, value: Buffer.from('b') }]),
        isLogError('EXTENTLOG_ERR_LOG_PRODUCER_CLOSED', 'failed earlier'),
      );
      await assert.rejects(producer.flush(), isLogError('EXTENTLOG_ERR_LOG_PRODUCE', 'doomed'));
      await producer.close();
    });

    test('a topic that does not exist fails sends, consumers and range reads naming it', async (t) => {
      const broker = await startTestBroker((fn) => t.after(fn), { autoCreateTopics: false });
      const log = await client(t, broker.address);
      await assert.rejects(
        log.consumer({ groupId: 'nobody', topics: ['no-such-topic'] }),
        isLogError('EXTENTLOG_ERR_LOG_TOPIC', 'no-such-topic'),
      );
      await assert.rejects(
        async () => {
          for await (const _ of log.readRange({
            topic: 'no-such-topic',
            partition: 0,
            fromOffset: 0,
          }))
            break;
        },
        isLogError('EXTENTLOG_ERR_LOG_TOPIC', 'no-such-topic'),
      );

      const producer = await log.producer();
      await assert.rejects(
        producer.send('no-such-topic', 0, [{ key: null, value: Buffer.from('x') }]),
        isLogError('EXTENTLOG_ERR_LOG_TOPIC', 'no-such-topic'),
      );
      await producer.close();
      assert.ok(!(await log.admin.listTopics()).includes('no-such-topic'));
    });
  });
}
