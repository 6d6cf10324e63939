/**
 * The status page as a person sees it, in real Chromium (Debian's, driven by
 * playwright-core), during a replication: a feed cycling every few hundred milliseconds
 * over a changing disk into two file targets, one of them paused so that it lags. The page
 * must show every feed and target with a lag value, draw the lag chart and the change
 * maps, and keep updating; a screenshot of it is saved (and, in CI, kept at
 * .tmp/status-page.png) and checked not to be blank.
 */
import assert from 'node:assert/strict';
import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { parseConfig } from '../../bin/config/load-config.js';
import { startRuntime } from '../../bin/runtime.js';
import { eventually } from '../support/eventually.js';
import { makeImage, patternBytes, writeAt } from '../support/image-files.js';
import { silentLogger } from '../support/silent-logger.js';
import { tempDir } from '../support/temp-dir.js';

const MiB = 1024 * 1024;
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];
// dist/test/e2e → the checkout's .tmp/
const STABLE_SCREENSHOT = fileURLToPath(new URL('../../../.tmp/status-page.png', import.meta.url));

// Browser-side checks (the page's own JavaScript, not this process's).
const PAGE_SHOWS_EVERYTHING = `(() => {
  const lagOf = (target) => document
    .querySelector('#targets tr[data-target="' + target + '"] td.lag-seconds')
    ?.getAttribute('data-lag-seconds');
  return document.querySelector('#feeds tr[data-feed="vm1"]') !== null
    && (lagOf('mirror-a') ?? '') !== ''
    && Number(lagOf('offsite-b')) > 1
    && document.querySelectorAll('#lag-chart polyline').length >= 2
    && document.querySelectorAll('#errors tbody tr').length > 0
    && document.querySelectorAll('#change-maps canvas').length === 1;
})()`;

const PAINTED_CHANGE_MAP_PIXELS = `(() => {
  const canvas = document.querySelector('#change-maps canvas');
  const pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  let painted = 0;
  for (let index = 3; index < pixels.length; index += 4) if (pixels[index] > 0) painted += 1;
  return painted;
})()`;

/** Distinct colours (5 bits per channel) and the share of non-white pixels of a PNG. */
const IMAGE_STATISTICS = `async (base64) => {
  const image = new Image();
  image.src = 'data:image/png;base64,' + base64;
  await image.decode();
  const canvas = document.getElementById('c');
  canvas.width = image.width;
  canvas.height = image.height;
  const context = canvas.getContext('2d');
  context.drawImage(image, 0, 0);
  const pixels = context.getImageData(0, 0, image.width, image.height).data;
  const seen = new Set();
  let ink = 0;
  for (let index = 0; index < pixels.length; index += 4) {
    const [r, g, b] = [pixels[index], pixels[index + 1], pixels[index + 2]];
    seen.add(((r >> 3) << 10) | ((g >> 3) << 5) | (b >> 3));
    if (r + g + b < 600) ink += 1;
  }
  return { colours: seen.size, inkShare: ink / (pixels.length / 4) };
}`;

test('the status page shows feeds, targets, lag, change maps and errors, live, in Chromium', async (t) => {
  const dir = await tempDir(t, 'status-page');
  const source = path.join(dir.path, 'vm1-disk0.img');
  await makeImage(source, 8 * MiB, 64 * MiB);
  await writeFile(path.join(dir.path, 'not-a-directory'), 'a file\n');
  const config = parseConfig(
    {
      dataDir: path.join(dir.path, 'data'),
      feeds: [
        {
          name: 'vm1',
          source: { type: 'image', disks: [{ id: 'disk-0', path: source }] },
          intervalMs: 400,
          heartbeatIntervalMs: 200,
          maxRecordBytes: 256 * 1024,
        },
      ],
      targets: [
        {
          type: 'file',
          name: 'mirror-a',
          feeds: ['vm1'],
          path: path.join(dir.path, 'a', '{feed}-{disk}.img'),
          flushIntervalMs: 100,
        },
        {
          type: 'file',
          name: 'offsite-b',
          feeds: ['vm1'],
          path: path.join(dir.path, 'b', '{feed}-{disk}.img'),
          flushIntervalMs: 100,
        },
        {
          // Its directory is a file: every write fails, and the page must say so.
          type: 'file',
          name: 'broken-c',
          feeds: ['vm1'],
          path: path.join(dir.path, 'not-a-directory', '{feed}-{disk}.img'),
          flushIntervalMs: 100,
        },
      ],
    },
    'status page test',
  );
  const runtime = await startRuntime(config, silentLogger, {
    status: { port: 0, sampleIntervalMs: 250 },
  });
  dir.beforeRemoval(() => runtime.close());
  const url = runtime.status!.url;

  // The disk keeps changing in a few places while the feed cycles.
  let writing = true;
  const writer = (async () => {
    for (let round = 0; writing; round += 1) {
      await writeAt(
        source,
        ((round * 7) % 60) * MiB + 4096 * round,
        patternBytes(192 * 1024, round + 2),
      );
      await new Promise((resolve) => setTimeout(resolve, 150));
    }
  })();
  dir.beforeRemoval(async () => {
    writing = false;
    await writer;
  });
  await eventually(
    'both targets at a restore point',
    () =>
      ['mirror-a', 'offsite-b'].every(
        (name) => runtime.replays.get(name)!.status().disks[0]?.lastRestorePoint != null,
      )
        ? true
        : undefined,
    60_000,
  );
  runtime.replays.get('offsite-b')!.pause();

  const context = await chromium.launchPersistentContext(path.join(dir.path, 'chromium-profile'), {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1280, height: 1000 },
  });
  dir.beforeRemoval(() => context.close());
  const page = context.pages()[0] ?? (await context.newPage());
  const consoleErrors: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error') consoleErrors.push(message.text());
  });
  page.on('pageerror', (error) => consoleErrors.push(error.message));
  await page.goto(url);

  // Every feed and target, with lag values; the paused target lags in seconds.
  // (Polled from here: the page's Content-Security-Policy forbids the eval of waitForFunction.)
  await eventually(
    'the page to show every feed and target with lag',
    async () => ((await page.evaluate(PAGE_SHOWS_EVERYTHING)) === true ? true : undefined),
    60_000,
  );
  const text = await page.locator('main').innerText();
  for (const name of ['vm1', 'disk-0', 'mirror-a', 'offsite-b', 'broken-c'])
    assert.ok(text.includes(name), `the page shows ${name}`);
  assert.match(
    await page.locator('#targets tr[data-target="offsite-b"] td.lag-seconds').innerText(),
    /^\d+(\.\d)? s$/,
  );
  assert.match(await page.locator('#summary').innerText(), /problem/);
  assert.match(await page.locator('#problems').innerText(), /target offsite-b: paused/);
  assert.match(
    await page.locator('#errors').innerText(),
    /target broken-c .*EXTENTLOG_ERR_TARGET_/s,
  );
  // Stopped on the error, or starting over after it: either way the row names the error.
  assert.match(
    await page.locator('#targets tr[data-target="broken-c"]').innerText(),
    /(stopped|retrying)[\s\S]*EXTENTLOG_ERR_TARGET_OPEN/,
  );
  const painted = (await page.evaluate(PAINTED_CHANGE_MAP_PIXELS)) as number;
  assert.ok(painted > 0, 'the change map shows changed regions');

  // Live: the page updates by itself.
  const firstUpdate = Number(await page.locator('body').getAttribute('data-updated-at-ms'));
  await eventually(
    'the page to update by itself',
    async () =>
      Number(await page.locator('body').getAttribute('data-updated-at-ms')) > firstUpdate
        ? true
        : undefined,
    10_000,
  );

  const screenshot = path.join(dir.path, 'status-page.png');
  const png = await page.screenshot({ path: screenshot, fullPage: true });
  if (process.env.CI !== undefined) {
    await mkdir(path.dirname(STABLE_SCREENSHOT), { recursive: true });
    await copyFile(screenshot, STABLE_SCREENSHOT);
  }
  // Not blank: many distinct colours, and a good share of the pixels are not background.
  const check = await context.newPage();
  await check.setContent('<canvas id="c"></canvas>');
  const { colours, inkShare } = (await check.evaluate(
    `(${IMAGE_STATISTICS})(${JSON.stringify(png.toString('base64'))})`,
  )) as { colours: number; inkShare: number };
  assert.ok(colours >= 20, `${colours} distinct colours`);
  assert.ok(inkShare > 0.05, `${(inkShare * 100).toFixed(1)} % of the pixels are not background`);
  assert.deepEqual(consoleErrors, []);
});
