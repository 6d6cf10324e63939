/**
 * `extentlog broker`: argument checking, the advertised address, and a clean stop on SIGINT after which records and
 * committed offsets are there and the next start skips recovery.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { access, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Kafka, logLevel } from 'kafkajs';
import { startBrokerProcess } from '../../support/broker-process.js';
import { connectWire } from '../../support/kafkajs-wire.js';
import { tempDir } from '../../support/temp-dir.js';

const execFileAsync = promisify(execFile);
const cli = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../bin/extentlog.js');

async function runCli(args: readonly string[]): Promise<{ code: number; stderr: string }> {
  try {
    await execFileAsync(process.execPath, [cli, 'broker', ...args], { timeout: 30_000 });
    return { code: 0, stderr: '' };
  } catch (error) {
    const failed = error as { code: number; stderr: string };
    return { code: failed.code, stderr: failed.stderr };
  }
}

test('bad arguments are refused with a message naming the option', async () => {
  assert.deepEqual(
    await runCli([]).then((r) => [r.code, /--data-dir is required/.test(r.stderr)]),
    [2, true],
  );
  const port = await runCli(['--data-dir', '/tmp/x', '--port', 'ninety']);
  assert.equal(port.code, 2);
  assert.match(port.stderr, /--port expects a non-negative integer, received 'ninety'/);
  const tls = await runCli(['--data-dir', '/tmp/x', '--tls-cert', 'c.pem']);
  assert.match(tls.stderr, /--tls-cert and --tls-key go together/);
  const unknown = await runCli(['--data-dir', '/tmp/x', '--colour']);
  assert.equal(unknown.code, 2);
});

test('--advertised-host and --advertised-port are what the metadata tells clients', async (t) => {
  const dir = await tempDir(t, 'broker-advertised');
  const broker = await startBrokerProcess({
    dataDir: path.join(dir.path, 'data'),
    port: 0,
    args: ['--advertised-host', 'kafka.example.net', '--advertised-port', '19092', '--no-registry'],
  });
  t.after(() => broker.stop());
  // Asked on the wire: a client library would go on to connect to the advertised address.
  const wire = await connectWire(broker.host, broker.port);
  const metadata = await wire.send<{ brokers: { host: string; port: number }[] }>('Metadata', 1, {
    topics: [],
  });
  wire.close();
  assert.deepEqual(
    metadata.brokers.map(({ host, port }) => ({ host, port })),
    [{ host: 'kafka.example.net', port: 19092 }],
  );
  const bad = await runCli(['--data-dir', '/tmp/x', '--advertised-port', 'high']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--advertised-port expects a non-negative integer, received 'high'/);
});

test('SIGINT stops the broker cleanly and the data is there after a restart', async (t) => {
  const dir = await tempDir(t, 'broker-command');
  const dataDir = path.join(dir.path, 'data');
  let broker = await startBrokerProcess({ dataDir, port: 0 });
  // The schema registry is served next to the broker, with its data under the same directory.
  const subjects = await fetch(`${broker.registryUrl}/subjects`);
  assert.equal(subjects.status, 200);
  assert.deepEqual(await subjects.json(), []);
  t.after(() => {
    if (broker.child.exitCode === null) process.kill(broker.pid, 'SIGKILL');
  });
  const send = async (address: string) => {
    const producer = new Kafka({ brokers: [address], logLevel: logLevel.NOTHING }).producer();
    await producer.connect();
    await producer.send({ topic: 'kept', acks: -1, messages: [{ value: 'one' }] });
    await producer.disconnect();
  };
  await send(broker.address);
  const wire = await connectWire(broker.host, broker.port);
  await wire.send('OffsetCommit', 2, {
    groupId: 'keeper',
    groupGenerationId: -1,
    memberId: '',
    retentionTime: -1,
    topics: [{ topic: 'kept', partitions: [{ partition: 0, offset: '1' }] }],
  });
  wire.close();
  process.kill(broker.pid, 'SIGINT');
  assert.equal(await broker.exited, 0);
  await access(path.join(dataDir, 'clean-shutdown'));

  broker = await startBrokerProcess({ dataDir, port: broker.port });
  const admin = new Kafka({ brokers: [broker.address], logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  const offsets = await admin.fetchTopicOffsets('kept');
  const [committed] = await admin.fetchOffsets({ groupId: 'keeper', topics: ['kept'] });
  await admin.disconnect();
  assert.equal(offsets[0]?.high, '1');
  assert.equal(committed?.partitions[0]?.offset, '1', 'committed offsets survive the restart');
  process.kill(broker.pid, 'SIGTERM');
  assert.equal(await broker.exited, 0);
});

test('--tls-cert/--tls-key and --sasl-users-file secure the listener', async (t) => {
  const dir = await tempDir(t, 'broker-command-secure');
  const certFile = path.join(dir.path, 'cert.pem');
  const keyFile = path.join(dir.path, 'key.pem');
  await execFileAsync('openssl', [
    'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1',
    '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1',
    '-keyout', keyFile, '-out', certFile,
  ]); // prettier-ignore
  const usersFile = path.join(dir.path, 'users');
  await writeFile(usersFile, '# operators\nfeed-writer:s3cret:with:colons\n');
  const broker = await startBrokerProcess({
    dataDir: path.join(dir.path, 'data'),
    port: 0,
    args: ['--tls-cert', certFile, '--tls-key', keyFile, '--sasl-users-file', usersFile],
  });
  t.after(() => {
    if (broker.child.exitCode === null) process.kill(broker.pid, 'SIGKILL');
  });
  const admin = new Kafka({
    brokers: [broker.address],
    ssl: { ca: [await readFile(certFile)] },
    sasl: { mechanism: 'scram-sha-512', username: 'feed-writer', password: 's3cret:with:colons' },
    logLevel: logLevel.NOTHING,
  }).admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: 'secured' }] });
  assert.deepEqual(await admin.listTopics(), ['secured']);
  await admin.disconnect();
  process.kill(broker.pid, 'SIGTERM');
  assert.equal(await broker.exited, 0);
});
