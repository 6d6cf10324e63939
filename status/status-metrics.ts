/**
 * The Prometheus metrics of one extentlog process (text exposition format 0.0.4, served at
 * `/metrics`). Gauges and totals are read from the statuses when Prometheus scrapes, so a
 * scrape always shows the present; cycle durations and errors are counted as they happen.
 * Every name starts with `extentlog_`; the process' own metrics (CPU, memory, event loop
 * lag) come from prom-client's defaults.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { CycleEvent, ErrorEvent } from './error-log.js';
import type { StatusReadModel } from './read-model.js';
import type { StatusSampler } from './status-sampler.js';

export const METRIC_NAMES = [
  'extentlog_target_lag_seconds',
  'extentlog_target_lag_records',
  'extentlog_target_lag_bytes',
  'extentlog_target_applied_records_total',
  'extentlog_target_applied_bytes_total',
  'extentlog_target_restore_point_timestamp_seconds',
  'extentlog_feed_published_records_total',
  'extentlog_feed_published_bytes_total',
  'extentlog_feed_heartbeats_total',
  'extentlog_feed_cycle_duration_seconds',
  'extentlog_feed_last_commit_timestamp_seconds',
  'extentlog_errors_total',
  'extentlog_broker_disk_usage_bytes',
] as const;

export interface StatusMetrics {
  readonly contentType: string;
  render(): Promise<string>;
  onCycle(event: CycleEvent): void;
  onError(event: ErrorEvent): void;
}

type Labels = Record<string, string>;
/** The current value of each labelled series; null: leave the series out. */
type Rows = () => Iterable<readonly [Labels, number | null]>;

export function createStatusMetrics(model: StatusReadModel, sampler: StatusSampler): StatusMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const registers = [registry];
  /** A metric whose series are read from the statuses at each scrape. */
  const fromStatus = (
    type: 'gauge' | 'counter',
    name: string,
    help: string,
    labelNames: string[],
    rows: Rows,
  ) => {
    const config = {
      name,
      help,
      labelNames,
      registers,
      collect(this: Gauge | Counter) {
        this.reset();
        for (const [labels, value] of rows())
          if (value === null) continue;
          else if (this instanceof Gauge) this.set(labels, value);
          else this.inc(labels, value);
      },
    };
    // Totals the runtime keeps are counters, so that rate() works on them.
    return type === 'gauge' ? new Gauge(config) : new Counter(config);
  };
  const gauge = (name: string, help: string, labelNames: string[], rows: Rows) =>
    fromStatus('gauge', name, help, labelNames, rows);
  const total = (name: string, help: string, labelNames: string[], rows: Rows) =>
    fromStatus('counter', name, help, labelNames, rows);

  function* targetDisks() {
    for (const target of model.targets())
      for (const disk of target.disks)
        yield { labels: { target: target.target, feed: disk.feed, disk: disk.diskId }, disk };
  }
  function* lagPartitions() {
    for (const target of model.targets())
      for (const entry of sampler.latest(target.target)?.partitions ?? [])
        yield {
          labels: { target: target.target, topic: entry.topic, partition: String(entry.partition) },
          entry,
        };
  }
  function* feedDisks() {
    for (const feed of model.feeds())
      for (const disk of feed.disks) yield { labels: { feed: feed.feed, disk: disk.diskId }, disk };
  }
  const targetDiskLabels = ['target', 'feed', 'disk'];
  const partitionLabels = ['target', 'topic', 'partition'];
  const feedDiskLabels = ['feed', 'disk'];

  gauge(
    'extentlog_target_lag_seconds',
    'Seconds since the source time of the newest record a target applied, while it is behind (0 when caught up): the achieved recovery point.',
    targetDiskLabels,
    function* () {
      for (const target of model.targets())
        for (const disk of sampler.latest(target.target)?.disks ?? [])
          yield [{ target: target.target, feed: disk.feed, disk: disk.diskId }, disk.seconds];
    },
  );
  gauge(
    'extentlog_target_lag_records',
    "Records between a target group's committed offset and the partition's end offset.",
    partitionLabels,
    function* () {
      for (const { labels, entry } of lagPartitions()) yield [labels, entry.records];
    },
  );
  gauge(
    'extentlog_target_lag_bytes',
    'Bytes of the records a target group has not committed yet (exact for short backlogs, sampled for long ones).',
    partitionLabels,
    function* () {
      for (const { labels, entry } of lagPartitions()) yield [labels, entry.bytes];
    },
  );
  total(
    'extentlog_target_applied_records_total',
    'Extent records a target applied since its replay of the partition started.',
    targetDiskLabels,
    function* () {
      for (const { labels, disk } of targetDisks()) yield [labels, disk.appliedRecords];
    },
  );
  total(
    'extentlog_target_applied_bytes_total',
    'Data bytes (WRITE) a target applied since its replay of the partition started.',
    targetDiskLabels,
    function* () {
      for (const { labels, disk } of targetDisks()) yield [labels, disk.appliedBytes];
    },
  );
  gauge(
    'extentlog_target_restore_point_timestamp_seconds',
    "Source time of a target disk's latest restore point (alert on time() minus this).",
    targetDiskLabels,
    function* () {
      for (const { labels, disk } of targetDisks())
        yield [
          labels,
          disk.lastRestorePoint === null ? null : disk.lastRestorePoint.committedAtMs / 1000,
        ];
    },
  );
  total(
    'extentlog_feed_published_records_total',
    'Extent records a feed published for a disk (cycles that ran to their end).',
    feedDiskLabels,
    function* () {
      for (const { labels, disk } of feedDisks()) yield [labels, disk.published.extentRecords];
    },
  );
  total(
    'extentlog_feed_published_bytes_total',
    'Bytes a feed published for a disk: data bytes of WRITE records plus the lengths of ZERO/DISCARD records.',
    feedDiskLabels,
    function* () {
      for (const { labels, disk } of feedDisks())
        yield [labels, disk.published.dataBytes + disk.published.zeroBytes];
    },
  );
  total(
    'extentlog_feed_heartbeats_total',
    'Heartbeats a feed published for a disk.',
    feedDiskLabels,
    function* () {
      for (const { labels, disk } of feedDisks()) yield [labels, disk.published.heartbeats];
    },
  );
  gauge(
    'extentlog_feed_last_commit_timestamp_seconds',
    "Time of a feed disk's last committed epoch (its SyncCommit).",
    feedDiskLabels,
    function* () {
      for (const { labels, disk } of feedDisks())
        yield [labels, disk.lastCommittedAtMs === null ? null : disk.lastCommittedAtMs / 1000];
    },
  );
  gauge(
    'extentlog_broker_disk_usage_bytes',
    "Bytes the embedded broker's data directory occupies (absent with an external Kafka).",
    [],
    function* () {
      yield [{}, model.brokerDiskUsageBytes()];
    },
  );
  const cycleDuration = new Histogram({
    name: 'extentlog_feed_cycle_duration_seconds',
    help: 'Duration of finished sync cycles.',
    labelNames: ['feed', 'disk', 'mode'],
    buckets: [0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600, 4 * 3600],
    registers,
  });
  const errors = new Counter({
    name: 'extentlog_errors_total',
    help: 'Errors reported by feeds and targets, by error code (see docs/errors.md).',
    labelNames: ['component', 'name', 'code'],
    registers,
  });

  return {
    contentType: registry.contentType,
    render: () => registry.metrics(),
    onCycle({ feed, diskId, cycle }) {
      cycleDuration.observe({ feed, disk: diskId, mode: cycle.mode }, cycle.durationMs / 1000);
    },
    onError({ component, name, code }) {
      errors.inc({ component, name, code });
    },
  };
}
