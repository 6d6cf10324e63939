/**
 * Authentication and encryption against real client implementations: SASL PLAIN and
 * SCRAM-SHA-256/512 with kafkajs, SCRAM-SHA-256 with kcat (librdkafka), and a TLS listener
 * with a self-signed certificate made by openssl for this test.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { promisify } from 'node:util';
import { Kafka, logLevel, type SASLOptions } from 'kafkajs';
import { startTestBroker } from '../../support/test-broker.js';

const execFileAsync = promisify(execFile);
const users = [{ username: 'replicator', password: 'p4ss=w,rd' }];
const saslBroker = await startTestBroker(after, { sasl: { users } });

async function roundTrip(kafka: Kafka, topic: string): Promise<string> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.createTopics({ topics: [{ topic }] });
  } finally {
    await admin.disconnect();
  }
  const producer = kafka.producer();
  await producer.connect();
  await producer.send({ topic, messages: [{ value: `hello ${topic}` }] });
  await producer.disconnect();
  const consumer = kafka.consumer({ groupId: `${topic}-group`, maxWaitTimeInMs: 100 });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    return await new Promise<string>((resolve) => {
      void consumer.run({ eachMessage: async ({ message }) => resolve(String(message.value)) });
    });
  } finally {
    await consumer.disconnect();
  }
}

for (const mechanism of ['plain', 'scram-sha-256', 'scram-sha-512'] as const) {
  test(`kafkajs authenticates with SASL ${mechanism}`, async () => {
    const sasl = { mechanism, ...users[0] } as SASLOptions;
    const kafka = new Kafka({ brokers: [saslBroker.address], sasl, logLevel: logLevel.NOTHING });
    assert.equal(await roundTrip(kafka, `sasl-${mechanism}`), `hello sasl-${mechanism}`);
  });
}

test('a wrong password is refused and an unauthenticated request closes the connection', async () => {
  for (const mechanism of ['plain', 'scram-sha-256'] as const) {
    const kafka = new Kafka({
      brokers: [saslBroker.address],
      sasl: { mechanism, username: 'replicator', password: 'wrong' } as SASLOptions,
      retry: { retries: 0 },
      logLevel: logLevel.NOTHING,
    });
    const admin = kafka.admin();
    await assert.rejects(admin.connect(), /SASL|authentication/i);
  }
  const anonymous = new Kafka({
    brokers: [saslBroker.address],
    retry: { retries: 0 },
    connectionTimeout: 2000,
    logLevel: logLevel.NOTHING,
  }).admin();
  await assert.rejects(async () => {
    await anonymous.connect();
    await anonymous.listTopics();
  });
  await anonymous.disconnect();
});

test('kcat authenticates with SASL SCRAM-SHA-256', async () => {
  const auth = [
    '-X',
    'security.protocol=SASL_PLAINTEXT',
    '-X',
    'sasl.mechanisms=SCRAM-SHA-256',
    '-X',
    `sasl.username=${users[0]?.username}`,
    '-X',
    `sasl.password=${users[0]?.password}`,
  ];
  const produce = execFileAsync(
    'kcat',
    ['-b', saslBroker.address, ...auth, '-P', '-t', 'sasl-kcat'],
    {
      timeout: 60_000,
    },
  );
  produce.child.stdin?.end('one\ntwo\n');
  await produce;
  const { stdout } = await execFileAsync(
    'kcat',
    ['-b', saslBroker.address, ...auth, '-C', '-t', 'sasl-kcat', '-o', 'beginning', '-e'],
    { timeout: 60_000 },
  );
  assert.deepEqual(stdout.trim().split('\n'), ['one', 'two']);
});

test('kafkajs speaks to a TLS listener with a self-signed certificate', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'extentlog-tls-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const certFile = path.join(dir, 'cert.pem');
  const keyFile = path.join(dir, 'key.pem');
  await execFileAsync('openssl', [
    'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1',
    '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost',
    '-keyout', keyFile, '-out', certFile,
  ]); // prettier-ignore
  const tlsBroker = await startTestBroker(t.after.bind(t), { tls: { certFile, keyFile } });
  const kafka = new Kafka({
    brokers: [tlsBroker.address],
    ssl: { ca: [await readFile(certFile)], servername: 'localhost' },
    logLevel: logLevel.NOTHING,
  });
  assert.equal(await roundTrip(kafka, 'over-tls'), 'hello over-tls');

  const plaintext = new Kafka({
    brokers: [tlsBroker.address],
    retry: { retries: 0 },
    connectionTimeout: 2000,
    logLevel: logLevel.NOTHING,
  }).admin();
  await assert.rejects(plaintext.connect());
});
