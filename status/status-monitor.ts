/**
 * The measuring side of the status API, on the thread that runs the replication: the lag
 * sampler, the error log fed by every status change, the metrics registry, and the live
 * view over all of them.
 */
import type { FastifyBaseLogger } from 'fastify';
import { ErrorLog } from './error-log.js';
import { LagBytesEstimator, type LagBytesOptions } from './lag-bytes.js';
import { createLiveStatusView } from './live-status-view.js';
import type { StatusActions, StatusReadModel } from './read-model.js';
import { createStatusMetrics, type StatusMetrics } from './status-metrics.js';
import { StatusSampler } from './status-sampler.js';
import type { StatusView } from './status-view.js';

export interface StatusMonitorOptions {
  readonly model: StatusReadModel;
  readonly actions: StatusActions;
  readonly logger: Pick<FastifyBaseLogger, 'warn'>;
  /** How often targets' lag is measured (and the page updated). */
  readonly sampleIntervalMs: number;
  /** Lag samples kept for the chart. */
  readonly historySamples: number;
  readonly lagBytes?: Omit<LagBytesOptions, 'log' | 'now'>;
  readonly now?: () => number;
}

export interface StatusMonitor {
  readonly view: StatusView;
  readonly sampler: StatusSampler;
  /** Stops sampling and observing. */
  close(): Promise<void>;
}

export function createStatusMonitor(options: StatusMonitorOptions): StatusMonitor {
  const { model } = options;
  const now = options.now ?? Date.now;
  const roundListeners = new Set<() => void>();
  let metrics: StatusMetrics | null = null;
  const errors = new ErrorLog({
    capacity: 100,
    onError: (event) => metrics?.onError(event),
    onCycle: (event) => metrics?.onCycle(event),
  });
  const observe = () => errors.observe(model.feeds(), model.targets());
  const sampler = new StatusSampler({
    model,
    bytes: new LagBytesEstimator({ ...options.lagBytes, log: model.log, now }),
    intervalMs: options.sampleIntervalMs,
    historySamples: options.historySamples,
    now,
    onRound: () => {
      observe();
      for (const listener of roundListeners) listener();
    },
    onError: (error) => options.logger.warn({ err: error }, 'measuring target lag failed'),
  });
  metrics = createStatusMetrics(model, sampler);
  // Status changes arrive in bursts (every applied batch): look at them once per turn.
  let observing: NodeJS.Immediate | null = null;
  const unsubscribe = model.subscribe(() => {
    observing ??= setImmediate(() => {
      observing = null;
      observe();
    });
  });
  const view = createLiveStatusView({
    model,
    actions: options.actions,
    sampler,
    errors,
    metrics,
    now,
    // A FULL sync keeps this thread busy and stretches sampling rounds to seconds: that is
    // load, not an unreachable log, and must not take the process out of service.
    readyWithinMs: Math.max(15_000, 5 * options.sampleIntervalMs),
    onRound(listener) {
      roundListeners.add(listener);
      return () => roundListeners.delete(listener);
    },
  });
  return {
    view,
    sampler,
    async close() {
      unsubscribe();
      if (observing !== null) clearImmediate(observing);
      await sampler.stop();
    },
  };
}
