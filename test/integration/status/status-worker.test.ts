/**
 * The status API as a running process serves it: from a worker thread, mirroring this
 * thread's statuses. Reads are answered while this thread cannot run at all (it waits in
 * spawnSync for the client), actions and restore points travel to this thread and back,
 * and a port that is taken is reported as such.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import net from 'node:net';
import { test } from 'node:test';
import { startStatusServer } from '../../../status/status-server.js';
import { fakeFeed, FakeStatusModel, fakeRestorePoint } from '../../support/fake-status-model.js';
import { eventually } from '../../support/eventually.js';
import { silentLogger } from '../../support/silent-logger.js';
import { statusApi } from '../../support/status-process.js';

const TOKEN = 'worker-test-token-0123456789';

function start(model: FakeStatusModel, port = 0) {
  return startStatusServer({
    model,
    actions: model,
    token: TOKEN,
    logger: silentLogger,
    host: '127.0.0.1',
    port,
    sampleIntervalMs: 100,
    historySamples: 50,
  });
}

/** GETs `url` from another process while this thread is blocked in spawnSync. */
function fetchWhileBlocked(url: string): { status: number; body: string } {
  const script = `fetch(${JSON.stringify(url)}).then(async (r) => process.stdout.write(JSON.stringify({ status: r.status, body: await r.text() })))`;
  const child = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(child.status, 0, `the client failed: ${child.stderr}`);
  return JSON.parse(child.stdout) as { status: number; body: string };
}

test('a worker thread answers status reads while the replication thread is blocked', async (t) => {
  const model = new FakeStatusModel();
  const server = await start(model);
  t.after(() => server.close());
  await eventually('ready', async () =>
    (await fetch(`${server.url}/readyz`)).status === 200 ? true : undefined,
  );
  const feeds = fetchWhileBlocked(`${server.url}/api/v1/feeds`);
  assert.equal(feeds.status, 200);
  assert.equal((JSON.parse(feeds.body) as { feeds: { feed: string }[] }).feeds[0]?.feed, 'vm1');
  assert.equal(fetchWhileBlocked(`${server.url}/readyz`).status, 200);
  assert.equal(fetchWhileBlocked(`${server.url}/healthz`).status, 200);
});

test('the worker mirrors status changes and carries actions and restore points to the replication thread', async (t) => {
  const model = new FakeStatusModel();
  const server = await start(model);
  t.after(() => server.close());
  const api = statusApi(server.url);

  model.feedViews = [fakeFeed({ feed: 'vm2', topic: 'x.vm2.extents' })];
  model.changed();
  await eventually('the new feed in the worker', async () => {
    const { feeds } = (await api.get('/api/v1/feeds')).body as { feeds: { feed: string }[] };
    return feeds[0]?.feed === 'vm2' ? true : undefined;
  });

  assert.equal((await api.post('/api/v1/feeds/vm2/pause')).status, 401);
  assert.equal((await api.post('/api/v1/feeds/vm2/pause', { token: TOKEN })).status, 200);
  const sync = await api.post('/api/v1/feeds/vm2/sync', {
    token: TOKEN,
    body: { disks: ['disk-0'] },
  });
  assert.equal(sync.status, 202);
  assert.deepEqual(model.calls, ['pause feed vm2', 'sync vm2 disk-0']);

  model.logPoints = [fakeRestorePoint({ epoch: 4 }), fakeRestorePoint({ epoch: 5 })];
  const points = (await api.get('/api/v1/restore-points')).body as {
    restorePoints: { points: { epoch: number }[] }[];
  };
  assert.deepEqual(
    points.restorePoints[0]!.points.map((point) => point.epoch),
    [5, 4, 1],
    'from the log (5, 4) and the live target status (1)',
  );

  const metrics = await fetch(`${server.url}/metrics`).then((response) => response.text());
  assert.match(metrics, /^extentlog_broker_disk_usage_bytes 4096$/m);
});

test('a port that is taken fails the start with EXTENTLOG_ERR_STATUS_LISTEN', async (t) => {
  const blocker = net.createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => blocker.close(() => resolve())));
  const port = (blocker.address() as net.AddressInfo).port;
  await assert.rejects(start(new FakeStatusModel(), port), {
    code: 'EXTENTLOG_ERR_STATUS_LISTEN',
    message: new RegExp(`127\\.0\\.0\\.1:${port}.*EADDRINUSE`),
  });
});
