/** What every route of the status API receives from the app that mounts it. */
import type { BearerToken } from '../bearer-token.js';
import type { ErrorLog } from '../error-log.js';
import type { StatusActions, StatusReadModel } from '../read-model.js';
import type { StatusMetrics } from '../status-metrics.js';
import type { StatusSampler } from '../status-sampler.js';

export interface StatusLogger {
  info(fields: Readonly<Record<string, unknown>>, message: string): void;
  warn(fields: Readonly<Record<string, unknown>>, message: string): void;
}

export interface RouteContext {
  readonly model: StatusReadModel;
  readonly actions: StatusActions;
  readonly sampler: StatusSampler;
  readonly errors: ErrorLog;
  readonly metrics: StatusMetrics;
  /** null: actions are disabled (no token file configured). */
  readonly token: BearerToken | null;
  readonly logger: StatusLogger;
  readonly now: () => number;
  /** Longest time since the last successful lag sample for /readyz to say ready. */
  readonly readyWithinMs: number;
  /** Calls `listener` after every sampling round; returns the unsubscribe. */
  onRound(listener: () => void): () => void;
}
