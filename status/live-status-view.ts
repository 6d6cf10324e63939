/**
 * The status view computed on the spot from the runtime's read model, the lag sampler, the
 * error log and the metrics registry. In-process tests mount the API on it directly; a
 * running process mirrors it into the status worker thread.
 */
import { feedSummary, overview, targetSummary } from './api-views.js';
import type { ErrorLog } from './error-log.js';
import type { StatusActions, StatusReadModel } from './read-model.js';
import type { StatusMetrics } from './status-metrics.js';
import type { StatusSampler } from './status-sampler.js';
import type { AsyncStatusActions, StatusView } from './status-view.js';

export interface LiveStatusParts {
  readonly model: StatusReadModel;
  readonly actions: StatusActions;
  readonly sampler: StatusSampler;
  readonly errors: ErrorLog;
  readonly metrics: StatusMetrics;
  readonly now: () => number;
  /** Longest time since the last successful lag sample for readiness. */
  readonly readyWithinMs: number;
  /** Registers for the end of every sampling round. */
  readonly onRound: (listener: () => void) => () => void;
}

function asynchronous(actions: StatusActions): AsyncStatusActions {
  const wrap =
    <A extends unknown[]>(action: (...args: A) => void) =>
    async (...args: A) =>
      action(...args);
  return {
    syncNow: wrap(actions.syncNow.bind(actions)),
    pauseFeed: wrap(actions.pauseFeed.bind(actions)),
    resumeFeed: wrap(actions.resumeFeed.bind(actions)),
    pauseTarget: wrap(actions.pauseTarget.bind(actions)),
    resumeTarget: wrap(actions.resumeTarget.bind(actions)),
    requestRebaseline: wrap(actions.requestRebaseline.bind(actions)),
  };
}

export function createLiveStatusView(parts: LiveStatusParts): StatusView {
  const { model, sampler, errors, now } = parts;
  return {
    feeds: () => model.feeds().map(feedSummary),
    targets: () => model.targets().map((target) => targetSummary(target, sampler, errors)),
    overview: () => overview(model, sampler, errors, now()),
    lagHistory: () => sampler.history(),
    recentErrors: () => errors.recent(),
    liveness: () => ({ name: 'process', ok: true, detail: `up ${Math.round(process.uptime())} s` }),
    readiness() {
      const nowMs = now();
      const last = sampler.lastSuccessAtMs;
      const ok = last !== null && nowMs - last <= parts.readyWithinMs;
      const failure = sampler.lastError === null ? '' : `: ${sampler.lastError.message}`;
      const detail =
        last === null
          ? (sampler.lastError?.message ?? 'no lag measurement yet')
          : ok
            ? `lag measured ${nowMs - last} ms ago`
            : `last lag measurement ${nowMs - last} ms ago${failure}`;
      return { ready: ok, checks: [{ name: 'log', ok, detail }] };
    },
    metrics: async () => ({
      contentType: parts.metrics.contentType,
      text: await parts.metrics.render(),
    }),
    restorePoints: () => model.restorePoints(),
    actions: asynchronous(parts.actions),
    onUpdate: parts.onRound,
  };
}
