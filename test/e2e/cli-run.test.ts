/**
 * `extentlog run`, `verify` and `restore` as an operator uses them: the real command in
 * child processes against one configuration on the embedded broker.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { open, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { runCli, startCli, transcript } from '../support/cli.js';
import { attachLoopDevice } from '../support/loop-device.js';
import { writeCliSetup } from '../support/cli-config.js';
import { patternBytes, sha256OfFile, writeAt } from '../support/image-files.js';
import { tempDir } from '../support/temp-dir.js';
import { eventually } from '../support/test-broker.js';

const MiB = 1024 * 1024;

test('run --once, verify, a corrupted target byte, restore', async (t) => {
  const dir = await tempDir(t, 'cli-run');
  const setup = await writeCliSetup(dir.path);
  const cfg = ['-c', setup.configPath];
  const restore = (target: string, output: string, ...more: string[]) =>
    runCli(t, [
      'restore',
      ...cfg,
      '--target',
      target,
      '--feed',
      'vm1',
      '--disk',
      'disk-0',
      '--output',
      output,
      ...more,
    ]);

  const first = await runCli(t, ['run', '--once', ...cfg]);
  assert.equal(first.code, 0, transcript(first));
  assert.match(first.stdout, /^vm1 +disk-0 +1 +FULL .* committed$/m);
  assert.match(first.stdout, /^mirror-a +vm1 +disk-0 +epoch 1 /m);
  assert.match(first.stdout, /^mirror-b +vm1 +disk-0 +epoch 1 /m);
  assert.match(first.stdout, /^ok$/m);
  const epoch1 = await sha256OfFile(setup.sourcePath);
  assert.equal(await sha256OfFile(setup.imagePath('mirror-a')), epoch1);

  await writeAt(setup.sourcePath, 9 * MiB + 17, patternBytes(5000, 3));
  const second = await runCli(t, ['run', '--once', ...cfg]);
  assert.equal(second.code, 0, transcript(second));
  assert.match(second.stdout, /^vm1 +disk-0 +2 +INCREMENTAL /m);

  const verified = await runCli(t, ['verify', ...cfg]);
  assert.equal(verified.code, 0, transcript(verified));
  assert.match(verified.stdout, /^mirror-a +vm1 +disk-0 +2 .* match$/m);
  assert.match(verified.stdout, /^mirror-b +vm1 +disk-0 +2 .* match$/m);
  assert.match(verified.stdout, /meaningful only while the source has not changed/);

  // Restore the latest restore point: the source's bytes, and holes stay holes.
  const output = path.join(dir.path, 'restored', 'disk-0.img');
  const restored = await restore('mirror-b', output);
  assert.equal(restored.code, 0, transcript(restored));
  assert.match(restored.stdout, /the output equals the target/);
  assert.equal(await sha256OfFile(output), await sha256OfFile(setup.sourcePath));
  const { size, blocks } = await stat(output);
  assert.equal(size, 16 * MiB);
  assert.ok(blocks * 512 < 8 * MiB, `the restored image is sparse (${blocks * 512} bytes used)`);

  const again = await restore('mirror-b', output);
  assert.equal(again.code, 2, transcript(again));
  assert.match(again.stderr, /exists: add --force to overwrite it/);
  const older = await restore('mirror-a', `${output}.1`, '--epoch', '1');
  assert.equal(older.code, 1, transcript(older));
  assert.match(
    older.stderr,
    /holds only its latest restore point \(epoch 2\).*epoch 1 was overwritten/,
  );
  assert.equal(existsSync(`${output}.1`), false, 'nothing is written for a refused restore point');

  // Onto a block device (a loop device over garbage, larger than the disk): the zero runs
  // are zeroed there, and the disk fills the device's first bytes.
  const backing = path.join(dir.path, 'device.img');
  await writeFile(backing, patternBytes(20 * MiB, 9));
  const loop = await attachLoopDevice(backing);
  t.after(() => loop.detach());
  const refused = await restore('mirror-a', loop.device);
  assert.equal(refused.code, 2, transcript(refused));
  assert.match(refused.stderr, /is a block device: add --force/);
  const onDevice = await restore('mirror-a', loop.device, '--force');
  assert.equal(onDevice.code, 0, transcript(onDevice));
  assert.match(onDevice.stdout, /MB zero \(zeroed\)/);
  assert.equal(await sha256OfFile(loop.device, 16 * MiB), await sha256OfFile(setup.sourcePath));

  // One flipped byte in one target: verify names that target and disk, and fails.
  const handle = await open(setup.imagePath('mirror-b'), 'r+');
  await handle.write(Buffer.from([0xff]), 0, 1, 5 * MiB + 4096 + 100);
  await handle.close();
  const corrupted = await runCli(t, ['verify', ...cfg]);
  assert.equal(corrupted.code, 1, transcript(corrupted));
  assert.match(corrupted.stdout, /^mirror-a +vm1 +disk-0 .* match$/m);
  assert.match(corrupted.stdout, /^mirror-b +vm1 +disk-0 .* MISMATCH$/m);
  assert.match(
    corrupted.stdout,
    /^MISMATCH mirror-b vm1\/disk-0 at epoch 2: source sha256 [0-9a-f]{64}, target sha256 [0-9a-f]{64}$/m,
  );
  const one = await runCli(t, ['verify', ...cfg, '--target', 'mirror-a', '--disk', 'disk-0']);
  assert.equal(one.code, 0, transcript(one));
  assert.doesNotMatch(one.stdout, /mirror-b/);
  const unknown = await runCli(t, ['verify', ...cfg, '--target', 'mirror-c']);
  assert.equal(unknown.code, 2, transcript(unknown));
  assert.match(
    unknown.stderr,
    /--target 'mirror-c' is not in the configuration — did you mean 'mirror-a'\?/,
  );
});

test('a configuration error names the setting and the closest key, with exit 2', async (t) => {
  const dir = await tempDir(t, 'cli-config-errors');
  const configPath = path.join(dir.path, 'bad.yaml');
  await writeFile(
    configPath,
    [
      'dataDir: ./data',
      'feeds:',
      '  - name: vm1',
      '    intervalMS: 60000',
      '    source: { type: image, disks: [{ id: d, path: /dev/null }] }',
      'targets:',
      '  - { type: file, name: t, feeds: [vm2], path: "/tmp/{disk}" }',
    ].join('\n'),
  );
  const result = await runCli(t, ['run', '-c', configPath]);
  assert.equal(result.code, 2, transcript(result));
  assert.match(result.stderr, /invalid configuration in .*bad\.yaml/);
  assert.match(
    result.stderr,
    /feeds\[0\]\.intervalMS: unknown setting — did you mean 'feeds\[0\]\.intervalMs'\?/,
  );
  assert.match(result.stderr, /targets\[0\]\.feeds\[0\]: no feed named 'vm2'; the feeds are 'vm1'/);
  assert.match(result.stderr, /\[EXTENTLOG_ERR_CONFIG_INVALID\]/);
  assert.equal(existsSync(path.join(dir.path, 'data')), false, 'nothing started');
  const missing = await runCli(t, ['verify', '-c', path.join(dir.path, 'nope.yaml')]);
  assert.equal(missing.code, 2, transcript(missing));
  assert.match(
    missing.stderr,
    /cannot read the configuration file .*nope\.yaml.*\[EXTENTLOG_ERR_CONFIG_READ\]/,
  );
  const usage = await runCli(t, ['run']);
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /--config is required/);
});

test('run replicates on its schedule and stops cleanly on SIGTERM', async (t) => {
  const dir = await tempDir(t, 'cli-run-signal');
  const setup = await writeCliSetup(dir.path, { feed: { intervalMs: 3_600_000 } });
  const run = startCli(t, ['run', '-c', setup.configPath, '--log-level', 'info']);
  const logs = () =>
    run
      .stderr()
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as { msg: string; target?: string; epoch?: number });
  // The schedule's first cycle runs at start; both targets announce its restore point.
  await eventually(
    'restore points of both targets',
    () => {
      if (run.child.exitCode !== null) throw new Error(`run exited:\n${run.stderr()}`);
      const recorded = logs().filter((entry) => entry.msg === 'restore point recorded');
      return new Set(recorded.map((entry) => entry.target)).size === 2 ? true : undefined;
    },
    60_000,
  );
  run.child.kill('SIGTERM');
  const result = await run.exited;
  assert.equal(result.code, 0, transcript(result));
  const messages = logs().map((entry) => entry.msg);
  assert.ok(messages.includes('stopping: feeds finish their cycle, replays checkpoint'));
  assert.equal(messages.at(-1), 'stopped');
  assert.ok(
    existsSync(path.join(setup.dataDir, 'broker', 'clean-shutdown')),
    'the broker closed cleanly',
  );
  const verified = await runCli(t, ['verify', '-c', setup.configPath]);
  assert.equal(verified.code, 0, transcript(verified));
});

test('a signal while run is still starting exits at once', async (t) => {
  const dir = await tempDir(t, 'cli-run-starting');
  const configPath = path.join(dir.path, 'unreachable.yaml');
  // Port 1 refuses connections: start-up keeps retrying the cluster.
  await writeFile(
    configPath,
    'kafka:\n  brokers: ["127.0.0.1:1"]\n  replicationFactor: 1\nschemaRegistry:\n  url: http://127.0.0.1:1\n',
  );
  const run = startCli(t, ['run', '-c', configPath]);
  await eventually(
    'a refused connection',
    () => (run.stderr().includes('ECONNREFUSED') ? true : undefined),
    30_000,
  );
  run.child.kill('SIGTERM');
  const result = await run.exited;
  assert.equal(result.code, 143, transcript(result));
  assert.match(result.stderr, /"msg":"exiting at once, without a clean stop"/);
});
