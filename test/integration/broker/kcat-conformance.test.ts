/**
 * The embedded broker driven by kcat (librdkafka 2.0.2): metadata listing, produce,
 * consume, and balanced-group consumption with commits verified afterwards.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, test } from 'node:test';
import { promisify } from 'node:util';
import { Kafka, logLevel } from 'kafkajs';
import { startTestBroker } from '../../support/test-broker.js';

const execFileAsync = promisify(execFile);

const broker = await startTestBroker(after);
const admin = new Kafka({ brokers: [broker.address], logLevel: logLevel.NOTHING }).admin();
await admin.connect();
after(() => admin.disconnect());

async function kcat(args: readonly string[], input?: string): Promise<string> {
  const child = execFileAsync('kcat', ['-b', broker.address, ...args], {
    timeout: 60_000,
    killSignal: 'SIGKILL',
  });
  if (input !== undefined) child.child.stdin?.end(input);
  return (await child).stdout;
}

test('kcat -L lists the broker and topics', async () => {
  await admin.createTopics({ topics: [{ topic: 'listed', numPartitions: 3 }] });
  const metadata = JSON.parse(await kcat(['-L', '-J'])) as {
    brokers: { id: number; name: string }[];
    topics: { topic: string; partitions: { partition: number; leader: number }[] }[];
  };
  assert.deepEqual(metadata.brokers, [{ id: 0, name: broker.address }]);
  const listed = metadata.topics.find((topic) => topic.topic === 'listed');
  assert.deepEqual(
    listed?.partitions.map((p) => [p.partition, p.leader]),
    [
      [0, 0],
      [1, 0],
      [2, 0],
    ],
  );
});

test('kcat produces and consumes keyed records', async () => {
  await admin.createTopics({ topics: [{ topic: 'kcat-records', numPartitions: 1 }] });
  const lines = Array.from({ length: 100 }, (_, i) => `disk-${i % 4}:extent-${i}`);
  await kcat(
    ['-P', '-t', 'kcat-records', '-K', ':', '-X', 'enable.idempotence=true'],
    `${lines.join('\n')}\n`,
  );
  const consumed = await kcat([
    '-C',
    '-t',
    'kcat-records',
    '-o',
    'beginning',
    '-e',
    '-f',
    '%o %k:%s\n',
  ]);
  assert.deepEqual(
    consumed.trim().split('\n'),
    lines.map((line, offset) => `${offset} ${line}`),
  );
});

test('kcat -G consumes as a group and commits its offsets', async () => {
  await admin.createTopics({ topics: [{ topic: 'kcat-group', numPartitions: 2 }] });
  const values = Array.from({ length: 40 }, (_, i) => `value-${i}`);
  await kcat(['-P', '-t', 'kcat-group', '-p', '0'], `${values.slice(0, 25).join('\n')}\n`);
  await kcat(['-P', '-t', 'kcat-group', '-p', '1'], `${values.slice(25).join('\n')}\n`);
  const consumed = await kcat([
    '-G',
    'kcat-readers',
    '-o',
    'beginning',
    '-e',
    '-f',
    '%s\n',
    '-X',
    'enable.auto.commit=true',
    '-X',
    'auto.commit.interval.ms=100',
    'kcat-group',
  ]);
  assert.deepEqual(consumed.trim().split('\n').sort(), [...values].sort());
  const [committed] = await admin.fetchOffsets({ groupId: 'kcat-readers', topics: ['kcat-group'] });
  assert.deepEqual(committed?.partitions.map((p) => [p.partition, p.offset]).sort(), [
    [0, '25'],
    [1, '15'],
  ]);
});
