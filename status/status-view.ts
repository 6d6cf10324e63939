/**
 * What the status API's routes read and do, whichever thread serves them: the live view
 * (`live-status-view.ts`) computes answers from the runtime's statuses on the thread that
 * runs the replication; the mirrored view (`mirrored-status-view.ts`) serves a worker
 * thread's copy of them, so that answers never wait behind replication work.
 */
import type { FeedSummary, Overview, TargetSummary } from './api-views.js';
import type { ErrorEvent } from './error-log.js';
import type { RestorePointView, StatusActions } from './read-model.js';
import type { LagSample } from './status-sampler.js';

export interface HealthCheck {
  readonly name: string;
  readonly ok: boolean;
  readonly detail: string;
}

export interface Readiness {
  readonly ready: boolean;
  readonly checks: readonly HealthCheck[];
}

/** The actions, as the API invokes them: a failure rejects (a StatusError, where it has a code). */
export type AsyncStatusActions = {
  readonly [K in keyof StatusActions]: (...args: Parameters<StatusActions[K]>) => Promise<void>;
};

export interface StatusView {
  feeds(): readonly FeedSummary[];
  targets(): readonly TargetSummary[];
  overview(): Overview;
  lagHistory(): readonly LagSample[];
  recentErrors(): readonly ErrorEvent[];
  /** /healthz: whether the process still works (ok: false → restart it). */
  liveness(): HealthCheck;
  /** /readyz: whether its view of the log is current. */
  readiness(): Readiness;
  metrics(): Promise<{ readonly contentType: string; readonly text: string }>;
  /** Every restore point the restore-points topic retains, in log order. */
  restorePoints(): Promise<readonly RestorePointView[]>;
  readonly actions: AsyncStatusActions;
  /** Calls `listener` whenever the answers may have changed (after every lag sampling round). */
  onUpdate(listener: () => void): () => void;
}
