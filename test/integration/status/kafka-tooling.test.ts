/**
 * What docs/operations.md promises operators: standard Kafka tooling works on extentlog's
 * topics during a replication. kcat (librdkafka) lists the topics and reads the records
 * (and their Confluent framing); the group-lag script (librdkafka's Python client) shows a
 * paused target's consumer-group lag, equal to what the status API and `extentlog status`
 * say; the record reader (Python Schema Registry client + Apache Avro) decodes the feed's
 * records and the restore points through the registry.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { parseConfig } from '../../../bin/config/load-config.js';
import { startRuntime } from '../../../bin/runtime.js';
import { eventually } from '../../support/eventually.js';
import { makeImage, patternBytes, writeAt } from '../../support/image-files.js';
import { silentLogger } from '../../support/silent-logger.js';
import { statusApi } from '../../support/status-process.js';
import { tempDir } from '../../support/temp-dir.js';

const run = promisify(execFile);
const MiB = 1024 * 1024;
// dist/test/integration/status → the checkout's scripts/ops
const OPS = fileURLToPath(new URL('../../../../scripts/ops/', import.meta.url));
const PYTHON = '/usr/bin/python3';

async function lines(command: string, args: readonly string[]): Promise<string[]> {
  const { stdout } = await run(command, args, { timeout: 60_000, maxBuffer: 64 * MiB });
  return stdout.split('\n').filter((line) => line.trim() !== '');
}

interface DecodedRecord {
  offset: number;
  key: string;
  type: string;
  record: Record<string, unknown>;
}

/** Every record of a topic, decoded by scripts/ops/extentlog-read-records.py. */
async function readRecords(broker: string, registry: string, topic: string) {
  const script = path.join(OPS, 'extentlog-read-records.py');
  const output = await lines(PYTHON, [
    script,
    '--bootstrap',
    broker,
    '--registry',
    registry,
    '--topic',
    topic,
  ]);
  return output.map((line) => JSON.parse(line) as DecodedRecord);
}

test('kcat, the Python group-lag script and the Avro record reader work on extentlog topics', async (t) => {
  const dir = await tempDir(t, 'kafka-tooling');
  const source = path.join(dir.path, 'source.img');
  await makeImage(source, 2 * MiB, 16 * MiB);
  const config = parseConfig(
    {
      dataDir: path.join(dir.path, 'data'),
      topicPrefix: 'ops',
      feeds: [
        {
          name: 'vm1',
          source: { type: 'image', disks: [{ id: 'disk-0', path: source }] },
          heartbeatIntervalMs: 0,
          maxRecordBytes: 512 * 1024,
        },
      ],
      targets: [
        {
          type: 'file',
          name: 'mirror',
          feeds: ['vm1'],
          path: path.join(dir.path, 'mirror', '{feed}-{disk}.img'),
          flushIntervalMs: 100,
        },
      ],
    },
    'kafka tooling test',
  );
  const runtime = await startRuntime(config, silentLogger, {
    status: { port: 0, sampleIntervalMs: 200 },
  });
  dir.beforeRemoval(() => runtime.close());
  const broker = runtime.embedded!.brokerAddress;
  const registry = runtime.embedded!.registryUrl;
  const feed = runtime.feeds.get('vm1')!;
  const replay = runtime.replays.get('mirror')!;
  const api = statusApi(runtime.status!.url);

  const [first] = await feed.syncNow();
  await eventually('the first restore point', () =>
    replay.status().disks[0]?.lastRestorePoint?.epoch === first!.committed!.epoch
      ? true
      : undefined,
  );
  replay.pause();
  await writeAt(source, 5 * MiB, patternBytes(MiB, 2));
  const [second] = await feed.syncNow();
  const [end] = await runtime.log.admin.offsets('ops.vm1.extents');

  // kcat: metadata, then every record of the feed's topic with its key and size.
  const metadata = JSON.parse((await lines('kcat', ['-b', broker, '-L', '-J']))[0]!) as {
    topics: { topic: string; partitions: unknown[] }[];
  };
  const topics = metadata.topics.map((entry) => entry.topic);
  for (const topic of ['ops.vm1.extents', 'ops.restore-points', 'ops.control'])
    assert.ok(topics.includes(topic), `kcat -L lists ${topic}: ${topics.join(', ')}`);
  const records = await lines('kcat', [
    '-b',
    broker,
    '-C',
    '-t',
    'ops.vm1.extents',
    '-o',
    'beginning',
    '-e',
    '-q',
    '-f',
    '%p %o %k %S\n',
  ]);
  assert.equal(records.length, end!.endOffset);
  assert.ok(
    records.every((line) => / disk-0 \d+$/.test(line)),
    records[0],
  );
  // The raw value as kcat prints it: a Confluent frame, magic byte 0 and the schema id.
  const { stdout: raw } = await run(
    'kcat',
    ['-b', broker, '-C', '-t', 'ops.vm1.extents', '-o', 'beginning', '-c', '1', '-q', '-f', '%s'],
    { encoding: 'buffer', timeout: 60_000 },
  );
  const schemaId = await runtime.registry.getRegistryId('ops.vm1.extents-value', 'latest');
  assert.equal(raw.readInt8(0), 0);
  assert.equal(raw.readUInt32BE(1), schemaId);

  // Group lag from librdkafka's Python client equals the status API's.
  await eventually('a lag sample after the second cycle', async () => {
    const lag = ((await api.get('/api/v1/targets/mirror')).body.lag ?? {}) as { records?: number };
    return (lag.records ?? 0) > 0 ? true : undefined;
  });
  const groupLag = (
    await lines(PYTHON, [
      path.join(OPS, 'extentlog-group-lag.py'),
      '--bootstrap',
      broker,
      '--prefix',
      'ops',
      '--json',
    ])
  ).map(
    (line) =>
      JSON.parse(line) as {
        group: string;
        topic: string;
        partition: number;
        committed: number;
        end: number;
        lag: number;
      },
  );
  const target = (await api.get('/api/v1/targets/mirror')).body as {
    lag: { records: number };
    partitions: { committedOffset: number; endOffset: number }[];
  };
  assert.deepEqual(groupLag, [
    {
      group: 'ops.target.mirror',
      topic: 'ops.vm1.extents',
      partition: 0,
      committed: target.partitions[0]!.committedOffset,
      end: end!.endOffset,
      lag: target.lag.records,
    },
  ]);
  assert.ok(
    groupLag[0]!.lag >= second!.extentRecords + 2,
    'the second epoch is not committed by the paused target',
  );
  const table = await lines(PYTHON, [
    path.join(OPS, 'extentlog-group-lag.py'),
    '--bootstrap',
    broker,
    '--prefix',
    'ops',
  ]);
  assert.match(table[0]!, /^GROUP +TOPIC +PARTITION +COMMITTED +END +LAG$/);
  assert.match(
    table[1]!,
    new RegExp(
      `^ops\\.target\\.mirror +ops\\.vm1\\.extents +0 +\\d+ +${end!.endOffset} +${groupLag[0]!.lag}$`,
    ),
  );

  // Avro through the registry: SyncBegin, Extents and SyncCommit of each epoch, in order.
  const decoded = await readRecords(broker, registry, 'ops.vm1.extents');
  assert.equal(decoded.length, end!.endOffset);
  assert.deepEqual(
    decoded.map((entry) => entry.record.seq),
    decoded.map((_, index) => index),
    'seq follows the offsets of a one-disk partition',
  );
  const second0 = decoded.find(
    (entry) => entry.type === 'SyncBegin' && entry.record.epoch === second!.committed!.epoch,
  )!;
  assert.equal(second0.record.mode, 'INCREMENTAL');
  const secondExtents = decoded.filter(
    (entry) => entry.type === 'Extent' && entry.record.epoch === second!.committed!.epoch,
  );
  assert.equal(secondExtents.length, second!.extentRecords);
  assert.deepEqual(
    secondExtents.map((entry) => [
      entry.record.offsetBytes,
      entry.record.op,
      (entry.record.data as { lengthBytes: number }).lengthBytes,
    ]),
    [
      [5 * MiB, 'WRITE', 512 * 1024],
      [5 * MiB + 512 * 1024, 'WRITE', 512 * 1024],
    ],
  );
  const commits = decoded.filter((entry) => entry.type === 'SyncCommit');
  assert.deepEqual(
    commits.map((entry) => entry.record.epoch),
    [first!.committed!.epoch, second!.committed!.epoch],
  );
  const points = await readRecords(broker, registry, 'ops.restore-points');
  assert.deepEqual(
    points.map((entry) => [entry.key, entry.type, entry.record.epoch]),
    [['mirror/vm1/disk-0', 'RestorePoint', first!.committed!.epoch]],
  );
  assert.equal(
    points[0]!.record.digest,
    commits[0]!.record.digest,
    'the restore point holds its epoch digest',
  );
  replay.resume();
});
