/**
 * The status API through `inject()` over an in-memory read model: routes, schemas (400s
 * name the field), the bearer token, lag arithmetic, metrics and the OpenAPI document.
 */
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { METRIC_NAMES } from '../../../status/status-metrics.js';
import { createStatusServer, type StatusServer } from '../../../status/status-server.js';
import {
  fakeCycle,
  fakeFeed,
  fakeFeedDisk,
  fakeTarget,
  fakeTargetDisk,
  FakeStatusModel,
} from '../../support/fake-status-model.js';
import { silentLogger } from '../../support/silent-logger.js';

const TOKEN = 'a-test-token-0123456789';
const NOW_MS = 1_010_000;

async function server(
  t: TestContext,
  model = new FakeStatusModel(),
  token: string | null = TOKEN,
): Promise<{ model: FakeStatusModel; server: StatusServer }> {
  const built = await createStatusServer({
    model,
    actions: model,
    token,
    logger: silentLogger,
    sampleIntervalMs: 1000,
    historySamples: 10,
    now: () => NOW_MS,
  });
  t.after(() => built.close());
  return { model, server: built };
}

const auth = { authorization: `Bearer ${TOKEN}` };

test('health answers at once; readiness waits for a lag measurement', async (t) => {
  const { server: status } = await server(t);
  const health = await status.app.inject({ url: '/healthz' });
  assert.equal(health.statusCode, 200);
  assert.equal(health.json().ok, true);
  const before = await status.app.inject({ url: '/readyz' });
  assert.equal(before.statusCode, 503);
  assert.equal(before.json().ready, false);
  await status.sampler.sampleNow();
  const after = await status.app.inject({ url: '/readyz' });
  assert.equal(after.statusCode, 200, after.body);
  assert.deepEqual(
    after.json().checks.map((check: { name: string }) => check.name),
    ['log'],
  );
});

test('readiness fails while the log cannot be reached, naming why', async (t) => {
  const { model, server: status } = await server(t);
  model.log.failOffsets = true;
  await status.sampler.sampleNow();
  const response = await status.app.inject({ url: '/readyz' });
  assert.equal(response.statusCode, 503);
  assert.match(response.json().checks[0].detail, /unreachable/);
});

test('feeds show phases, cycles, change maps and the change rate', async (t) => {
  const model = new FakeStatusModel();
  model.feedViews = [
    fakeFeed({
      disks: [
        fakeFeedDisk({
          recentCycles: [
            fakeCycle({ mode: 'FULL', startedAtMs: 1_000_000, dataBytes: 1 << 30 }),
            fakeCycle({ startedAtMs: 1_010_000, dataBytes: 40_000, zeroBytes: 10_000 }),
            fakeCycle({ startedAtMs: 1_020_000, dataBytes: 150_000, zeroBytes: 0 }),
          ],
          lastCycle: fakeCycle({ startedAtMs: 1_020_000 }),
        }),
      ],
    }),
  ];
  const { server: status } = await server(t, model);
  const response = await status.app.inject({ url: '/api/v1/feeds' });
  assert.equal(response.statusCode, 200);
  const [feed] = response.json().feeds;
  assert.equal(feed.feed, 'vm1');
  const [disk] = feed.disks;
  // (50 000 + 150 000) bytes over the 20 s between the FULL cycle's start and the last one's
  assert.equal(disk.changeRateBytesPerSecond, 10_000);
  assert.deepEqual(disk.lastCycle.changeMap, { bucketBytes: 4096, changedBytes: [4096, 0, 8192] });
  assert.equal(disk.recentCycles.length, 3);

  const one = await status.app.inject({ url: '/api/v1/feeds/vm1' });
  assert.equal(one.statusCode, 200);
  assert.equal(one.json().feed, 'vm1');
  const missing = await status.app.inject({ url: '/api/v1/feeds/vm9' });
  assert.equal(missing.statusCode, 404);
  assert.equal(missing.json().code, 'EXTENTLOG_ERR_STATUS_NOT_FOUND');
  assert.match(missing.json().message, /no feed 'vm9'.*known: vm1/);
});

test('target lag: records from committed offsets, exact bytes, seconds from the newest applied record', async (t) => {
  const model = new FakeStatusModel();
  model.log.append('x.vm1.extents', 0, [100, 200, 300, 400, 500]);
  model.log.commit('x.target.mirror', 'x.vm1.extents', 0, 2);
  const { server: status } = await server(t, model);
  await status.sampler.sampleNow();
  const response = await status.app.inject({ url: '/api/v1/targets/mirror' });
  assert.equal(response.statusCode, 200);
  const target = response.json();
  assert.equal(target.lag.records, 3);
  // key 'd' (1 byte) + value per record
  assert.equal(target.lag.bytes, 301 + 401 + 501);
  assert.equal(target.lag.bytesMethod, 'exact');
  assert.equal(target.lag.seconds, (NOW_MS - 1_001_000) / 1000);
  assert.deepEqual(
    target.partitions.map((entry: Record<string, unknown>) => [
      entry.endOffset,
      entry.committedOffset,
      entry.lagRecords,
      entry.assigned,
    ]),
    [[5, 2, 3, true]],
  );
  assert.equal(target.disks[0].lagSeconds, 9);
  assert.equal(target.disks[0].lastRestorePoint.epoch, 1);

  model.log.commit('x.target.mirror', 'x.vm1.extents', 0, 5);
  await status.sampler.sampleNow();
  const caughtUp = (await status.app.inject({ url: '/api/v1/targets' })).json().targets[0];
  assert.equal(caughtUp.lag.records, 0);
  assert.equal(caughtUp.lag.bytes, 0);
  assert.equal(caughtUp.lag.seconds, 0);
  assert.equal(caughtUp.disks[0].lagSeconds, 0);
});

test('actions need the bearer token: none or a wrong one gets 401, the right one acts', async (t) => {
  const { model, server: status } = await server(t);
  const bare = await status.app.inject({ method: 'POST', url: '/api/v1/feeds/vm1/sync' });
  assert.equal(bare.statusCode, 401);
  assert.equal(bare.json().code, 'EXTENTLOG_ERR_STATUS_UNAUTHORIZED');
  assert.match(String(bare.headers['www-authenticate']), /^Bearer/);
  const wrong = await status.app.inject({
    method: 'POST',
    url: '/api/v1/targets/mirror/pause',
    headers: { authorization: `Bearer ${TOKEN.slice(0, -1)}x` },
  });
  assert.equal(wrong.statusCode, 401);
  assert.match(wrong.json().message, /does not match/);
  assert.deepEqual(model.calls, []);

  const sync = await status.app.inject({
    method: 'POST',
    url: '/api/v1/feeds/vm1/sync',
    headers: auth,
  });
  assert.equal(sync.statusCode, 202, sync.body);
  assert.deepEqual(sync.json(), { accepted: true, feed: 'vm1', disks: ['disk-0'] });
  for (const url of [
    '/api/v1/feeds/vm1/pause',
    '/api/v1/feeds/vm1/resume',
    '/api/v1/targets/mirror/pause',
    '/api/v1/targets/mirror/resume',
  ])
    assert.equal((await status.app.inject({ method: 'POST', url, headers: auth })).statusCode, 200);
  const rebaseline = await status.app.inject({
    method: 'POST',
    url: '/api/v1/feeds/vm1/disks/disk-0/rebaseline',
    headers: auth,
    payload: { reason: 'target replaced' },
  });
  assert.equal(rebaseline.statusCode, 202, rebaseline.body);
  assert.deepEqual(model.calls, [
    'sync vm1 *',
    'pause feed vm1',
    'resume feed vm1',
    'pause target mirror',
    'resume target mirror',
    "rebaseline vm1 disk-0 'target replaced' true",
  ]);
});

test('without a token file every action is refused with 403', async (t) => {
  const { model, server: status } = await server(t, new FakeStatusModel(), null);
  const response = await status.app.inject({
    method: 'POST',
    url: '/api/v1/feeds/vm1/pause',
    headers: auth,
  });
  assert.equal(response.statusCode, 403);
  assert.equal(response.json().code, 'EXTENTLOG_ERR_STATUS_ACTIONS_DISABLED');
  assert.match(response.json().message, /status\.tokenFile/);
  assert.deepEqual(model.calls, []);
});

test('bad parameters get 400 with a message naming the field', async (t) => {
  const { model, server: status } = await server(t);
  const cases: { url: string; method?: 'POST'; payload?: object; field: RegExp }[] = [
    {
      method: 'POST',
      url: '/api/v1/feeds/vm1/disks/disk-0/rebaseline',
      payload: {},
      field: /body\.reason: is required/,
    },
    {
      method: 'POST',
      url: '/api/v1/feeds/vm1/disks/disk-0/rebaseline',
      payload: { reason: '' },
      field: /body\.reason: must NOT have fewer than 1 characters/,
    },
    {
      method: 'POST',
      url: '/api/v1/feeds/vm1/sync',
      payload: { disk: ['disk-0'] },
      field: /body: unknown field 'disk'/,
    },
    {
      method: 'POST',
      url: '/api/v1/feeds/vm1/sync',
      payload: { disks: [7] },
      field: /body\.disks\[0\]: must be string/,
    },
    { method: 'POST', url: '/api/v1/feeds/-bad/pause', field: /params\.feed: must match pattern/ },
    { url: '/api/v1/restore-points?target=a%20b', field: /querystring\.target: must match/ },
    { url: '/api/v1/restore-points?tagret=a', field: /querystring: unknown field 'tagret'/ },
  ];
  for (const { url, method, payload, field } of cases) {
    const response = await status.app.inject({
      method: method ?? 'GET',
      url,
      headers: auth,
      ...(payload === undefined ? {} : { payload }),
    });
    assert.equal(response.statusCode, 400, `${url}: ${response.body}`);
    assert.equal(response.json().code, 'EXTENTLOG_ERR_STATUS_BAD_REQUEST');
    assert.match(response.json().message, field, url);
  }
  const unknownDisk = await status.app.inject({
    method: 'POST',
    url: '/api/v1/feeds/vm1/sync',
    headers: auth,
    payload: { disks: ['disk-9'] },
  });
  assert.equal(unknownDisk.statusCode, 404);
  assert.match(unknownDisk.json().message, /no disk 'disk-9'.*known: disk-0/);
  assert.deepEqual(model.calls, []);
});

test('restore points are listed per target and disk, newest first, and can be filtered', async (t) => {
  const model = new FakeStatusModel();
  model.logPoints = [
    { ...fakeTarget().disks[0]!.lastRestorePoint!, epoch: 1 },
    { ...fakeTarget().disks[0]!.lastRestorePoint!, epoch: 2, digest: 'cd'.repeat(32) },
    { ...fakeTarget().disks[0]!.lastRestorePoint!, target: 'offsite', epoch: 2 },
  ];
  model.targetViews = [
    fakeTarget({
      disks: [
        fakeTargetDisk({
          lastRestorePoint: { ...model.logPoints[0]!, epoch: 3, sourceReference: 'image:3' },
        }),
      ],
    }),
  ];
  const { server: status } = await server(t, model);
  const all = (await status.app.inject({ url: '/api/v1/restore-points' })).json();
  assert.deepEqual(
    all.restorePoints.map((group: { target: string; points: { epoch: number }[] }) => [
      group.target,
      group.points.map((point) => point.epoch),
    ]),
    [
      ['mirror', [3, 2, 1]],
      ['offsite', [2]],
    ],
  );
  assert.equal(all.restorePoints[0].points[0].sourceReference, 'image:3');
  assert.equal(all.restorePoints[0].points[1].digest, 'cd'.repeat(32));
  const filtered = (
    await status.app.inject({ url: '/api/v1/restore-points?target=offsite&disk=disk-0' })
  ).json();
  assert.equal(filtered.restorePoints.length, 1);
  assert.equal(filtered.restorePoints[0].target, 'offsite');
});

test('metrics expose lag, totals, cycle durations, errors by code and broker disk usage', async (t) => {
  const model = new FakeStatusModel();
  model.log.append('x.vm1.extents', 0, [10, 10, 10]);
  model.log.commit('x.target.mirror', 'x.vm1.extents', 0, 1);
  const { server: status } = await server(t, model);
  model.feedViews = [
    fakeFeed({
      disks: [
        fakeFeedDisk({
          lastCycle: fakeCycle({ durationMs: 2500 }),
          lastError: { code: 'EXTENTLOG_ERR_SOURCE_READ', message: 'EIO', atMs: 1_005_000 },
        }),
      ],
    }),
  ];
  model.changed();
  await status.sampler.sampleNow();
  const text = (await status.app.inject({ url: '/metrics' })).body;
  const line = (pattern: RegExp) => {
    const found = text.split('\n').find((candidate) => pattern.test(candidate));
    assert.ok(found, `no line matches ${pattern}`);
    return Number(found.split(' ').pop());
  };
  assert.equal(
    line(/^extentlog_target_lag_records\{target="mirror",topic="x.vm1.extents",partition="0"\}/),
    2,
  );
  assert.equal(line(/^extentlog_target_lag_bytes\{target="mirror"/), 22);
  assert.equal(
    line(/^extentlog_target_lag_seconds\{target="mirror",feed="vm1",disk="disk-0"\}/),
    9,
  );
  assert.equal(line(/^extentlog_target_applied_bytes_total\{target="mirror"/), 20480);
  assert.equal(line(/^extentlog_feed_published_bytes_total\{feed="vm1",disk="disk-0"\}/), 45056);
  assert.equal(
    line(
      /^extentlog_feed_cycle_duration_seconds_count\{feed="vm1",disk="disk-0",mode="INCREMENTAL"\}/,
    ),
    1,
  );
  assert.equal(
    line(/^extentlog_errors_total\{component="feed",name="vm1",code="EXTENTLOG_ERR_SOURCE_READ"\}/),
    1,
  );
  assert.equal(line(/^extentlog_broker_disk_usage_bytes /), 4096);
  assert.equal(line(/^extentlog_target_restore_point_timestamp_seconds\{/), 1001);

  const exported = new Set(
    [...text.matchAll(/^# TYPE (extentlog_\w+) /gm)].map((match) => match[1]!),
  );
  assert.deepEqual(
    [...exported].sort(),
    [...METRIC_NAMES].sort(),
    'METRIC_NAMES lists what /metrics exports',
  );

  // The same error seen again is not counted twice.
  model.changed();
  await status.sampler.sampleNow();
  const again = (await status.app.inject({ url: '/metrics' })).body;
  assert.match(
    again,
    /extentlog_errors_total\{component="feed",name="vm1",code="EXTENTLOG_ERR_SOURCE_READ"\} 1\n/,
  );
  const errors = (await status.app.inject({ url: '/api/v1/errors' })).json().errors;
  assert.equal(errors.length, 1);
  assert.equal(errors[0].code, 'EXTENTLOG_ERR_SOURCE_READ');
});

test('the OpenAPI document describes every route with request and response schemas', async (t) => {
  const { server: status } = await server(t);
  const response = await status.app.inject({ url: '/openapi.json' });
  assert.equal(response.statusCode, 200);
  const document = response.json() as {
    openapi: string;
    paths: Record<
      string,
      Record<
        string,
        {
          responses: Record<string, unknown>;
          security?: unknown;
          requestBody?: unknown;
          parameters?: { name: string }[];
        }
      >
    >;
    components: { securitySchemes: Record<string, unknown>; schemas: Record<string, unknown> };
  };
  assert.equal(document.openapi, '3.1.0');
  assert.ok(document.components.securitySchemes.bearer);
  for (const path of [
    '/healthz',
    '/readyz',
    '/metrics',
    '/',
    '/api/v1/feeds',
    '/api/v1/feeds/{feed}',
    '/api/v1/feeds/{feed}/sync',
    '/api/v1/feeds/{feed}/pause',
    '/api/v1/feeds/{feed}/resume',
    '/api/v1/feeds/{feed}/disks/{disk}/rebaseline',
    '/api/v1/targets',
    '/api/v1/targets/{target}',
    '/api/v1/targets/{target}/pause',
    '/api/v1/targets/{target}/resume',
    '/api/v1/restore-points',
    '/api/v1/overview',
    '/api/v1/lag-history',
    '/api/v1/errors',
    '/api/v1/events',
  ])
    assert.ok(document.paths[path], `${path} is documented`);
  for (const [path, operations] of Object.entries(document.paths))
    for (const [method, operation] of Object.entries(operations)) {
      assert.ok(
        operation.responses['200'] ?? operation.responses['202'],
        `${method} ${path} has a response schema`,
      );
      if (method === 'post')
        assert.deepEqual(operation.security, [{ bearer: [] }], `${path} needs the token`);
    }
  assert.ok(document.paths['/api/v1/feeds/{feed}/disks/{disk}/rebaseline']!.post!.requestBody);
  assert.ok(document.components.schemas.Target, 'shared schemas are components');
});

test('the page, its script and style come from this server with a strict content security policy', async (t) => {
  const { server: status } = await server(t);
  const page = await status.app.inject({ url: '/' });
  assert.equal(page.statusCode, 200);
  assert.match(String(page.headers['content-type']), /^text\/html/);
  assert.match(
    String(page.headers['content-security-policy']),
    /default-src 'none'; script-src 'self'/,
  );
  assert.match(page.body, /<script src="status-page\.js" defer><\/script>/);
  assert.doesNotMatch(page.body, /https?:\/\//, 'nothing is loaded from elsewhere');
  const script = await status.app.inject({ url: '/status-page.js' });
  assert.match(String(script.headers['content-type']), /^text\/javascript/);
  assert.match(script.body, /new EventSource\('api\/v1\/events'\)/);
  const style = await status.app.inject({ url: '/status-page.css' });
  assert.match(String(style.headers['content-type']), /^text\/css/);
  const overview = (await status.app.inject({ url: '/api/v1/overview' })).json();
  assert.equal(overview.protected, false, 'lag is unknown before the first sample');
  await status.sampler.sampleNow();
  const sampled = (await status.app.inject({ url: '/api/v1/overview' })).json();
  assert.deepEqual(sampled.problems, []);
  assert.equal(sampled.protected, true);
  assert.equal(sampled.lagHistory.length, 1);
  const missing = await status.app.inject({ url: '/nope' });
  assert.equal(missing.statusCode, 404);
  assert.match(missing.json().message, /openapi\.json/);
});

test('the event stream sends an overview at once and after every sampling round', async (t) => {
  const { server: status } = await server(t);
  await status.app.listen({ host: '127.0.0.1', port: 0 });
  const address = status.app.server.address();
  assert.ok(address !== null && typeof address === 'object');
  const abort = new AbortController();
  t.after(() => abort.abort());
  const response = await fetch(`http://127.0.0.1:${address.port}/api/v1/events`, {
    signal: abort.signal,
  });
  assert.match(String(response.headers.get('content-type')), /^text\/event-stream/);
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  let text = '';
  const events = () => text.split('\n\n').filter((chunk) => chunk.startsWith('event: overview'));
  while (events().length < 1) text += decoder.decode((await reader.read()).value);
  await status.sampler.sampleNow();
  while (events().length < 2) text += decoder.decode((await reader.read()).value);
  const second = JSON.parse(events()[1]!.split('\ndata: ')[1]!) as { lagHistory: unknown[] };
  assert.equal(second.lagHistory.length, 1);
  await reader.cancel();
});

test('a target starting over after an error keeps showing that error until its disk is back', async (t) => {
  const model = new FakeStatusModel();
  const { server: status } = await server(t, model);
  const error = { code: 'EXTENTLOG_ERR_TARGET_WRITE', message: 'ENOSPC', atMs: 1_009_000 };
  model.targetViews = [
    fakeTarget({ disks: [fakeTargetDisk({ state: 'stopped', lastError: error })] }),
  ];
  model.changed();
  await status.sampler.sampleNow();
  model.targetViews = [fakeTarget({ disks: [] })];
  const target = (await status.app.inject({ url: '/api/v1/targets/mirror' })).json();
  assert.deepEqual(target.lastError, error);
  const { problems } = (await status.app.inject({ url: '/api/v1/overview' })).json();
  assert.deepEqual(problems, ['target mirror: retrying after EXTENTLOG_ERR_TARGET_WRITE — ENOSPC']);
  model.targetViews = [fakeTarget()];
  assert.equal((await status.app.inject({ url: '/api/v1/targets/mirror' })).json().lastError, null);
});
