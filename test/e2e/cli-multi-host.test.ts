/**
 * The multi-machine layout with the real command: a producer configuration (feeds only) and
 * a consumer configuration (targets only, following feeds that run elsewhere) against one
 * Kafka-compatible broker and schema registry — here the embedded ones, started by the test
 * and reached like a cluster.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { stringify } from 'yaml';
import { startEmbedded } from '../../bin/embedded.js';
import { runCli, transcript } from '../support/cli.js';
import { writeCliSetup } from '../support/cli-config.js';
import { patternBytes, sha256OfFile, writeAt } from '../support/image-files.js';
import { silentLogger } from '../support/silent-logger.js';
import { tempDir } from '../support/temp-dir.js';

test('a producer host and a consumer host replicate through a shared cluster', async (t) => {
  const dir = await tempDir(t, 'cli-multi-host');
  const cluster = await startEmbedded({
    dataDir: path.join(dir.path, 'cluster'),
    host: '127.0.0.1',
    port: 0,
    registryPort: 0,
    logger: silentLogger,
  });
  dir.beforeRemoval(() => cluster.close());
  const connection = {
    kafka: { brokers: [cluster.brokerAddress], replicationFactor: 1 },
    schemaRegistry: { url: cluster.registryUrl },
    topicPrefix: 'dr',
  };
  const setup = await writeCliSetup(dir.path);
  const producer = path.join(dir.path, 'producer.yaml');
  await writeFile(
    producer,
    stringify({
      ...connection,
      dataDir: path.join(dir.path, 'producer'),
      feeds: [
        {
          name: 'vm1',
          source: { type: 'image', disks: [{ id: 'disk-0', path: setup.sourcePath }] },
        },
      ],
    }),
  );
  const consumer = path.join(dir.path, 'consumer.yaml');
  const replica = path.join(dir.path, 'replica', 'vm1-disk-0.img');
  await writeFile(
    consumer,
    stringify({
      ...connection,
      dataDir: path.join(dir.path, 'consumer'),
      targets: [
        {
          type: 'file',
          name: 'dr-site',
          feeds: ['vm1'],
          path: path.join(dir.path, 'replica', '{feed}-{disk}.img'),
        },
      ],
    }),
  );

  for (const cycle of [1, 2]) {
    if (cycle === 2) await writeAt(setup.sourcePath, 12 * 1024 * 1024, patternBytes(9000, 7));
    const produced = await runCli(t, ['run', '--once', '-c', producer]);
    assert.equal(produced.code, 0, transcript(produced));
    assert.match(produced.stdout, new RegExp(`^vm1 +disk-0 +${cycle} `, 'm'));
    // The consumer host replays what the topic holds now, then exits.
    const consumed = await runCli(t, ['run', '--once', '-c', consumer]);
    assert.equal(consumed.code, 0, transcript(consumed));
    assert.equal(
      await sha256OfFile(replica),
      await sha256OfFile(setup.sourcePath),
      `cycle ${cycle}`,
    );
  }

  // The consumer host has no access to the source: verify says so and does not fail.
  const verified = await runCli(t, ['verify', '-c', consumer]);
  assert.equal(verified.code, 0, transcript(verified));
  assert.match(verified.stdout, /^dr-site +vm1 +disk-0 +2 .* skipped$/m);
  assert.match(verified.stdout, /skipped dr-site vm1\/disk-0: source: feed vm1 runs elsewhere/);
  const output = path.join(dir.path, 'restored.img');
  const restored = await runCli(t, [
    'restore',
    '-c',
    consumer,
    '--target',
    'dr-site',
    '--feed',
    'vm1',
    '--disk',
    'disk-0',
    '--output',
    output,
  ]);
  assert.equal(restored.code, 0, transcript(restored));
  assert.equal(await sha256OfFile(output), await sha256OfFile(setup.sourcePath));
});
