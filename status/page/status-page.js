// The status page's script: renders the api/v1/overview document (see the OpenAPI
// description at openapi.json) and keeps it live through the api/v1/events stream
// (Server-Sent Events), polling the overview while the stream is down. Text from the
// server only ever goes into textContent, never into markup.
'use strict';

const POLL_MS = 2000;
const COLOURS = ['#0969da', '#cf222e', '#1a7f37', '#8250df', '#bf8700', '#1b7c83', '#e16f24'];
const SVG = 'http://www.w3.org/2000/svg';

let latest = null;
let pollTimer = null;

function el(tag, attributes, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes ?? {})) {
    if (value === undefined || value === null) continue;
    if (name === 'class') node.className = value;
    else node.setAttribute(name, String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(typeof child === 'string' ? document.createTextNode(child) : child);
  }
  return node;
}

function svg(tag, attributes) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, String(value));
  return node;
}

function bytes(value) {
  if (value === null || value === undefined) return '–';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let scaled = value;
  let unit = 0;
  while (Math.abs(scaled) >= 1024 && unit < units.length - 1) {
    scaled /= 1024;
    unit += 1;
  }
  return `${scaled >= 100 || unit === 0 ? scaled.toFixed(0) : scaled.toFixed(1)} ${units[unit]}`;
}

function seconds(value) {
  if (value === null || value === undefined) return '–';
  if (value < 60) return `${value.toFixed(value < 10 ? 1 : 0)} s`;
  if (value < 3600) return `${(value / 60).toFixed(1)} min`;
  if (value < 86400) return `${(value / 3600).toFixed(1)} h`;
  return `${(value / 86400).toFixed(1)} d`;
}

function ago(atMs, nowMs) {
  return atMs === null || atMs === undefined
    ? '–'
    : `${seconds(Math.max(0, nowMs - atMs) / 1000)} ago`;
}

function state(text, tone) {
  return el('span', { class: `state ${tone}` }, text);
}

function errorCell(error) {
  if (error === null) return el('td', {}, '');
  return el('td', { class: 'error-text' }, el('code', {}, error.code), ' ', error.message);
}

function replaceRows(table, rows) {
  const body = table.querySelector('tbody');
  body.replaceChildren(...rows);
}

function renderSummary(overview) {
  const summary = document.getElementById('summary');
  const targetDisks = overview.targets.reduce((count, target) => count + target.disks.length, 0);
  if (overview.protected) {
    summary.className = 'badge ok';
    summary.textContent = `all ${targetDisks} target disk${targetDisks === 1 ? '' : 's'} protected`;
  } else {
    summary.className = 'badge bad';
    summary.textContent = `${overview.problems.length} problem${overview.problems.length === 1 ? '' : 's'}`;
  }
  const section = document.getElementById('problems-section');
  section.hidden = overview.problems.length === 0;
  document
    .getElementById('problems')
    .replaceChildren(...overview.problems.map((problem) => el('li', {}, problem)));
}

function targetTone(target, disk) {
  if (disk.lastError !== null || disk.state === 'stopped') return 'bad';
  if (target.paused || disk.state === 'waiting') return 'warn';
  return 'ok';
}

function renderTargets(overview) {
  const rows = [];
  for (const target of overview.targets) {
    const disks = target.disks.length > 0 ? target.disks : [null];
    for (const disk of disks) {
      const point = disk?.lastRestorePoint ?? null;
      const partition = disk
        ? target.partitions.find(
            (entry) => entry.topic === disk.topic && entry.partition === disk.partition,
          )
        : null;
      const behind = partition ?? target.lag;
      const records = partition ? partition.lagRecords : target.lag.records;
      const lagBytes = partition ? partition.lagBytes : target.lag.bytes;
      const method =
        (partition ? partition.lagBytesMethod : behind.bytesMethod) === 'sampled' ? '≈' : '';
      const lagSeconds = disk ? disk.lagSeconds : target.lag.seconds;
      rows.push(
        el(
          'tr',
          {
            'data-target': target.target,
            'data-disk': disk ? `${disk.feed}/${disk.diskId}` : null,
          },
          el(
            'td',
            {},
            el('strong', {}, target.target),
            el('div', { class: 'muted' }, target.targetKind),
          ),
          el('td', {}, disk ? `${disk.feed}/${disk.diskId}` : '–'),
          el(
            'td',
            {},
            disk
              ? state(target.paused ? 'paused' : disk.state, targetTone(target, disk))
              : target.lastError !== null
                ? state('retrying', 'bad')
                : state(target.paused ? 'paused' : 'no records yet', target.paused ? 'warn' : 'ok'),
          ),
          el(
            'td',
            { class: 'number lag-seconds', 'data-lag-seconds': lagSeconds ?? '' },
            seconds(lagSeconds),
          ),
          el(
            'td',
            { class: 'number' },
            records === null ? '–' : `${records} rec`,
            el('div', { class: 'muted' }, `${method}${bytes(lagBytes)}`),
          ),
          el(
            'td',
            {},
            point === null
              ? el('span', { class: 'muted' }, 'none yet')
              : el(
                  'span',
                  {},
                  `epoch ${point.epoch} · ${ago(point.committedAtMs, overview.generatedAtMs)}`,
                  el(
                    'div',
                    { class: 'muted' },
                    el('code', {}, point.digest.slice(0, 12)),
                    ` ${point.sourceReference}`,
                  ),
                ),
          ),
          el(
            'td',
            { class: 'number' },
            disk?.applyBytesPerSecond == null ? '–' : `${bytes(disk.applyBytesPerSecond)}/s`,
          ),
          errorCell(disk === null ? target.lastError : disk.lastError),
        ),
      );
    }
  }
  replaceRows(document.getElementById('targets'), rows);
  document.getElementById('targets-empty').hidden = overview.targets.length > 0;
}

function feedTone(feed, disk) {
  if (disk.phase === 'failed' || disk.lastError !== null) return 'bad';
  if (feed.paused || disk.phase === 'paused' || disk.rebaselineRequested !== null) return 'warn';
  return 'ok';
}

function renderFeeds(overview) {
  const rows = [];
  for (const feed of overview.feeds) {
    for (const disk of feed.disks) {
      const cycle = disk.lastCycle;
      const progress = disk.progress;
      rows.push(
        el(
          'tr',
          { 'data-feed': feed.feed, 'data-disk': disk.diskId },
          el('td', {}, el('strong', {}, feed.feed), el('div', { class: 'muted' }, feed.sourceKind)),
          el('td', {}, disk.diskId, el('div', { class: 'muted' }, bytes(disk.sizeBytes))),
          el(
            'td',
            {},
            state(disk.phase, feedTone(feed, disk)),
            progress === null
              ? null
              : el(
                  'div',
                  { class: 'muted' },
                  `${progress.mode} ${Math.floor((100 * progress.positionBytes) / Math.max(1, progress.diskSizeBytes))} %`,
                ),
          ),
          el(
            'td',
            { class: 'number' },
            disk.currentEpoch === null
              ? String(disk.lastCommittedEpoch ?? '–')
              : `${disk.currentEpoch} (open)`,
            el('div', { class: 'muted' }, `committed ${disk.lastCommittedEpoch ?? '–'}`),
          ),
          el(
            'td',
            {},
            cycle === null
              ? el('span', { class: 'muted' }, 'none yet')
              : el(
                  'span',
                  {},
                  `${cycle.mode} · ${cycle.extentRecords} extents · ${bytes(cycle.dataBytes + cycle.zeroBytes)}`,
                  el(
                    'div',
                    { class: 'muted' },
                    `${seconds(cycle.durationMs / 1000)} · ${ago(cycle.startedAtMs, overview.generatedAtMs)}`,
                  ),
                ),
          ),
          el(
            'td',
            { class: 'number' },
            disk.changeRateBytesPerSecond === null
              ? '–'
              : `${bytes(disk.changeRateBytesPerSecond)}/s`,
          ),
          el(
            'td',
            { class: 'number' },
            bytes(disk.published.dataBytes + disk.published.zeroBytes),
            el('div', { class: 'muted' }, `${disk.published.extentRecords} extents`),
          ),
          errorCell(disk.lastError),
        ),
      );
    }
  }
  replaceRows(document.getElementById('feeds'), rows);
  document.getElementById('feeds-empty').hidden = overview.feeds.length > 0;
}

function renderChangeMaps(overview) {
  const blocks = [];
  for (const feed of overview.feeds) {
    for (const disk of feed.disks) {
      const cycles = [...disk.recentCycles].reverse();
      const canvas = el('canvas', {
        width: 256,
        height: Math.max(1, cycles.length) * 6,
        'data-feed': feed.feed,
        'data-disk': disk.diskId,
        title: `${feed.feed}/${disk.diskId}`,
      });
      canvas.style.height = `${Math.max(1, cycles.length) * 12}px`;
      const context = canvas.getContext('2d');
      cycles.forEach((cycle, row) => {
        const { bucketBytes, changedBytes } = cycle.changeMap;
        changedBytes.forEach((changed, bucket) => {
          if (changed === 0) return;
          // Any change shows; the shade grows with the share of the region that changed.
          const share = Math.min(1, changed / bucketBytes);
          const lightness = 85 - Math.round(55 * Math.sqrt(share));
          context.fillStyle = `hsl(${cycle.mode === 'FULL' ? 265 : 212}, 80%, ${lightness}%)`;
          const width = 256 / changedBytes.length;
          context.fillRect(bucket * width, row * 6, Math.max(1, width), 5);
        });
      });
      const label = el(
        'div',
        {},
        el('strong', {}, `${feed.feed}/${disk.diskId}`),
        el(
          'div',
          { class: 'muted' },
          cycles.length === 0
            ? 'no cycles yet'
            : `epochs ${cycles
                .map(
                  (cycle) => `${cycle.epochs.join(',')}${cycle.mode === 'FULL' ? ' (full)' : ''}`,
                )
                .join(', ')}`,
        ),
      );
      blocks.push(el('div', { class: 'change-map' }, label, canvas));
    }
  }
  document.getElementById('change-maps').replaceChildren(...blocks);
}

function renderLagChart(overview) {
  const measure = document.getElementById('lag-measure').value;
  const container = document.getElementById('lag-chart');
  const samples = overview.lagHistory;
  const names = [
    ...new Set(samples.flatMap((sample) => sample.targets.map((entry) => entry.target))),
  ];
  // Drawn at the container's own width: scaling an SVG non-uniformly would stretch its text.
  const width = Math.max(320, container.clientWidth || 800);
  const height = 220;
  const left = 60;
  const bottom = 24;
  const chart = svg('svg', { viewBox: `0 0 ${width} ${height}`, width, height, role: 'img' });
  const values = samples.flatMap((sample) => sample.targets.map((entry) => entry[measure] ?? 0));
  const maximum = Math.max(1, ...values);
  const firstMs = samples.length > 0 ? samples[0].atMs : 0;
  const lastMs = samples.length > 0 ? samples[samples.length - 1].atMs : 1;
  const spanMs = Math.max(1, lastMs - firstMs);
  const x = (atMs) => left + ((atMs - firstMs) / spanMs) * (width - left - 8);
  const y = (value) => height - bottom - (value / maximum) * (height - bottom - 10);
  chart.append(
    svg('line', {
      class: 'axis',
      x1: left,
      y1: height - bottom,
      x2: width - 8,
      y2: height - bottom,
    }),
  );
  chart.append(svg('line', { class: 'axis', x1: left, y1: 10, x2: left, y2: height - bottom }));
  const format =
    measure === 'bytes'
      ? bytes
      : measure === 'seconds'
        ? seconds
        : (value) => String(Math.round(value));
  for (const fraction of [0, 0.5, 1]) {
    const label = svg('text', {
      class: 'label',
      x: left - 6,
      y: y(maximum * fraction) + 4,
      'text-anchor': 'end',
    });
    label.textContent = format(maximum * fraction);
    chart.append(label);
  }
  const span = svg('text', { class: 'label', x: width - 8, y: height - 6, 'text-anchor': 'end' });
  span.textContent = samples.length > 1 ? `last ${seconds(spanMs / 1000)}` : 'collecting samples…';
  chart.append(span);
  const legend = [];
  names.forEach((name, index) => {
    const colour = COLOURS[index % COLOURS.length];
    const points = samples.flatMap((sample) => {
      const entry = sample.targets.find((candidate) => candidate.target === name);
      return entry === undefined || entry[measure] === null
        ? []
        : [`${x(sample.atMs).toFixed(1)},${y(entry[measure]).toFixed(1)}`];
    });
    if (points.length > 0)
      chart.append(
        svg('polyline', {
          points: points.join(' '),
          fill: 'none',
          stroke: colour,
          'stroke-width': 2,
          'data-target': name,
        }),
      );
    const swatch = el('span', { class: 'swatch' });
    // Through the CSSOM: the page's Content-Security-Policy allows no inline style attributes.
    swatch.style.background = colour;
    legend.push(el('span', {}, swatch, name));
  });
  container.replaceChildren(chart);
  document.getElementById('lag-legend').replaceChildren(...legend);
}

function renderErrors(overview) {
  const rows = overview.errors.map((error) =>
    el(
      'tr',
      {},
      el('td', {}, new Date(error.atMs).toLocaleTimeString()),
      el('td', {}, `${error.component} ${error.name} · ${error.feed}/${error.diskId}`),
      el('td', {}, el('code', {}, error.code)),
      el('td', { class: 'error-text' }, error.message),
    ),
  );
  const table = document.getElementById('errors');
  replaceRows(table, rows);
  table.hidden = rows.length === 0;
  document.getElementById('errors-empty').hidden = rows.length > 0;
}

function render(overview) {
  latest = overview;
  renderSummary(overview);
  renderTargets(overview);
  renderLagChart(overview);
  renderFeeds(overview);
  renderChangeMaps(overview);
  renderErrors(overview);
  document.getElementById('connection').textContent =
    `updated ${new Date(overview.generatedAtMs).toLocaleTimeString()}`;
  document.body.dataset.updatedAtMs = String(overview.generatedAtMs);
}

async function poll() {
  try {
    const response = await fetch('api/v1/overview', { cache: 'no-store' });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    render(await response.json());
  } catch (error) {
    document.getElementById('connection').textContent =
      `cannot reach the status API (${error.message}); retrying`;
  }
}

function startPolling() {
  if (pollTimer !== null) return;
  void poll();
  pollTimer = setInterval(poll, POLL_MS);
}

function stopPolling() {
  if (pollTimer !== null) clearInterval(pollTimer);
  pollTimer = null;
}

function connect() {
  if (typeof EventSource !== 'function') {
    startPolling();
    return;
  }
  const events = new EventSource('api/v1/events');
  events.addEventListener('overview', (event) => {
    stopPolling();
    render(JSON.parse(event.data));
  });
  // EventSource reconnects by itself; poll meanwhile so the page does not go stale.
  events.addEventListener('error', () => startPolling());
}

document.getElementById('lag-measure').addEventListener('change', () => {
  if (latest !== null) renderLagChart(latest);
});
connect();
