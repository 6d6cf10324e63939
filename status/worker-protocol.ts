/**
 * Messages between the replication thread (host) and the status worker thread. The host
 * sends snapshots of everything the API reads, after every lag sampling round and, at most
 * every `SNAPSHOT_THROTTLE_MS`, when statuses change; the worker answers reads from the
 * latest one and asks the host for what only it can do (actions, the restore-points log).
 *
 *   host ──snapshot──▶ worker          worker ──request{id}──▶ host
 *   host ◀──listening── worker         worker ◀──reply{id}───── host
 *   host ◀──log──────── worker         host ──close──▶ worker ──closed──▶ host
 */
import type { Overview } from './api-views.js';
import type { RestorePointView, StatusActions } from './read-model.js';
import type { LagSample } from './status-sampler.js';
import type { HealthCheck, Readiness } from './status-view.js';

export const SNAPSHOT_THROTTLE_MS = 250;

export interface WorkerSettings {
  readonly host: string;
  readonly port: number;
  /** The bearer token itself (validated by the host), or null: actions disabled. */
  readonly token: string | null;
  readonly historySamples: number;
  /** The host is taken as stuck (and /healthz fails) after this long without a snapshot. */
  readonly stallLimitMs: number;
}

/** The overview's statuses (its lag history travels in pieces), health and metrics. */
export interface Snapshot extends Pick<Overview, 'feeds' | 'targets' | 'problems' | 'errors'> {
  readonly type: 'snapshot';
  readonly atMs: number;
  /** Lag samples taken since the previous snapshot (all of them in the first). */
  readonly newSamples: readonly LagSample[];
  readonly readiness: Readiness;
  readonly liveness: HealthCheck;
  /** Rendered after the last sampling round. */
  readonly metrics: { readonly contentType: string; readonly text: string };
  /** Whether a sampling round ended since the previous snapshot (the page's event stream). */
  readonly round: boolean;
}

export type HostRequest =
  | {
      readonly [K in keyof StatusActions]: {
        readonly type: 'request';
        readonly id: number;
        readonly action: K;
        readonly args: Parameters<StatusActions[K]>;
      };
    }[keyof StatusActions]
  | { readonly type: 'request'; readonly id: number; readonly action: 'restorePoints' };

export type HostReply =
  | {
      readonly type: 'reply';
      readonly id: number;
      readonly ok: true;
      readonly value?: readonly RestorePointView[];
    }
  | {
      readonly type: 'reply';
      readonly id: number;
      readonly ok: false;
      readonly code: string;
      readonly message: string;
    };

export type ToWorker = Snapshot | HostReply | { readonly type: 'close' };

export type FromWorker =
  | HostRequest
  | { readonly type: 'listening'; readonly port: number }
  | { readonly type: 'failed'; readonly code: string; readonly message: string }
  | {
      readonly type: 'log';
      readonly level: 'info' | 'warn' | 'error';
      readonly fields: Record<string, unknown>;
      readonly message: string;
    }
  | { readonly type: 'closed' };
