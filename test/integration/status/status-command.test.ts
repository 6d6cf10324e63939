/**
 * `extentlog status` against a status API (an in-memory read model behind the real server):
 * the report, --json, the URL from a configuration, and its exit codes.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { createStatusServer } from '../../../status/status-server.js';
import { FakeStatusModel, fakeTarget, fakeTargetDisk } from '../../support/fake-status-model.js';
import { silentLogger } from '../../support/silent-logger.js';
import { tempDir } from '../../support/temp-dir.js';

const run = promisify(execFile);
const EXTENTLOG = fileURLToPath(new URL('../../../bin/extentlog.js', import.meta.url));

async function status(
  ...args: string[]
): Promise<{ code: number; stdout: string; stderr: string }> {
  return run(process.execPath, [EXTENTLOG, 'status', ...args], { timeout: 60_000 }).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (error: { code: number; stdout: string; stderr: string }) => error,
  );
}

test('extentlog status reports, exits 0 when protected and 1 with problems', async (t) => {
  const model = new FakeStatusModel();
  const server = await createStatusServer({
    model,
    actions: model,
    token: null,
    logger: silentLogger,
    sampleIntervalMs: 1000,
    historySamples: 10,
  });
  t.after(() => server.close());
  await server.sampler.sampleNow();
  await server.app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = server.app.server.address() as net.AddressInfo;
  const url = `http://127.0.0.1:${port}`;

  const ok = await status('--url', url);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(
    ok.stdout,
    new RegExp(`^extentlog status at ${url}: all 1 target disk protected$`, 'm'),
  );
  assert.match(ok.stdout, /^vm1 +disk-0 +idle +1 /m);
  assert.match(ok.stdout, /^mirror +vm1\/disk-0 +between-epochs +/m);

  const json = await status('--url', url, '--json');
  assert.equal((JSON.parse(json.stdout) as { protected: boolean }).protected, true);

  // From a configuration file's status section.
  const dir = await tempDir(t, 'status-command');
  const config = path.join(dir.path, 'extentlog.yaml');
  await writeFile(config, `status:\n  port: ${port}\n`);
  assert.equal((await status('-c', config)).code, 0);

  model.targetViews = [
    fakeTarget({
      disks: [
        fakeTargetDisk({
          state: 'stopped',
          lastError: { code: 'EXTENTLOG_ERR_REPLAY_CRC', message: 'CRC mismatch', atMs: 1 },
        }),
      ],
    }),
  ];
  const failing = await status('--url', url);
  assert.equal(failing.code, 1);
  assert.match(failing.stdout, /^mirror +vm1\/disk-0 +stopped .*EXTENTLOG_ERR_REPLAY_CRC$/m);
  assert.match(failing.stdout, /^ {2}- target mirror disk vm1\/disk-0: EXTENTLOG_ERR_REPLAY_CRC/m);
});

test('extentlog status: unreachable API exits 1 naming the code; bad arguments exit 2', async (t) => {
  const free = net.createServer();
  await new Promise<void>((resolve) => free.listen(0, '127.0.0.1', resolve));
  const { port } = free.address() as net.AddressInfo;
  await new Promise<void>((resolve) => free.close(() => resolve()));
  const unreachable = await status('--url', `http://127.0.0.1:${port}`, '--timeout', '5');
  assert.equal(unreachable.code, 1);
  assert.match(
    unreachable.stderr,
    /cannot reach the status API .*\[EXTENTLOG_ERR_STATUS_UNREACHABLE\]/,
  );

  const badTimeout = await status('--timeout', 'soon');
  assert.equal(badTimeout.code, 2);
  assert.match(badTimeout.stderr, /--timeout expects a whole number of seconds/);
  assert.equal((await status('--frobnicate')).code, 2);

  const dir = await tempDir(t, 'status-command-args');
  const config = path.join(dir.path, 'extentlog.yaml');
  await writeFile(config, 'status:\n  port: 0\n');
  const anyPort = await status('-c', config);
  assert.equal(anyPort.code, 2);
  assert.match(anyPort.stderr, /status\.port 0 .*pass --url/);
});
