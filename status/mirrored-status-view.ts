/**
 * The status view inside the worker thread: answers from the host's latest snapshot, so a
 * read costs the same whatever the replication thread is doing; actions and the restore
 * points log are requests to the host. Liveness turns false when the host has sent nothing
 * for `stallLimitMs` (its event loop is stuck), readiness also when the snapshot is stale.
 */
import { StatusError, STATUS_ERRORS } from './errors.js';
import type { RestorePointView } from './read-model.js';
import { SampleRing } from './sample-ring.js';
import type { LagSample } from './status-sampler.js';
import type { AsyncStatusActions, StatusView } from './status-view.js';
import type { HostReply, HostRequest, Snapshot } from './worker-protocol.js';

type RequestBody = HostRequest extends infer R
  ? R extends HostRequest
    ? Omit<R, 'id' | 'type'>
    : never
  : never;

export interface MirroredStatusView extends StatusView {
  accept(snapshot: Snapshot): void;
  settle(reply: HostReply): void;
  /** Rejects every request still waiting for the host. */
  abandon(reason: string): void;
}

export function createMirroredStatusView(options: {
  readonly first: Snapshot;
  readonly historySamples: number;
  readonly stallLimitMs: number;
  readonly send: (request: HostRequest) => void;
  /** How long a request may wait for the host. */
  readonly requestTimeoutMs?: number;
}): MirroredStatusView {
  let snapshot = options.first;
  let receivedAtMs = Date.now();
  const history = new SampleRing<LagSample>(options.historySamples);
  for (const sample of snapshot.newSamples) history.push(sample);
  const listeners = new Set<() => void>();
  const pending = new Map<number, { resolve(value: unknown): void; reject(error: Error): void }>();
  let nextId = 1;
  const requestTimeoutMs = options.requestTimeoutMs ?? 30_000;

  const request = (body: RequestBody) =>
    new Promise<unknown>((resolve, reject) => {
      const id = nextId++;
      const timer = setTimeout(() => {
        pending.delete(id);
        reject(
          new StatusError(
            'EXTENTLOG_ERR_STATUS_ACTION_FAILED',
            `the replication thread did not answer within ${requestTimeoutMs} ms`,
          ),
        );
      }, requestTimeoutMs);
      pending.set(id, {
        resolve: (value) => {
          clearTimeout(timer);
          resolve(value);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      });
      options.send({ ...body, type: 'request', id } as HostRequest);
    });
  const act =
    <K extends keyof AsyncStatusActions>(action: K) =>
    async (...args: Parameters<AsyncStatusActions[K]>) => {
      await request({ action, args } as RequestBody);
    };
  const stalledForMs = () => Date.now() - receivedAtMs;

  return {
    feeds: () => snapshot.feeds,
    targets: () => snapshot.targets,
    overview: () => ({
      generatedAtMs: snapshot.atMs,
      protected: snapshot.problems.length === 0,
      problems: snapshot.problems,
      feeds: snapshot.feeds,
      targets: snapshot.targets,
      lagHistory: history.toArray(),
      errors: snapshot.errors,
    }),
    lagHistory: () => history.toArray(),
    recentErrors: () => snapshot.errors,
    liveness() {
      const silentMs = stalledForMs();
      return silentMs > options.stallLimitMs
        ? {
            name: 'replication thread',
            ok: false,
            detail: `the replication thread has not answered for ${silentMs} ms`,
          }
        : snapshot.liveness;
    },
    readiness() {
      const silentMs = stalledForMs();
      if (silentMs <= options.stallLimitMs) return snapshot.readiness;
      return {
        ready: false,
        checks: [
          ...snapshot.readiness.checks,
          { name: 'replication thread', ok: false, detail: `silent for ${silentMs} ms` },
        ],
      };
    },
    metrics: async () => snapshot.metrics,
    restorePoints: async () =>
      (await request({ action: 'restorePoints' })) as readonly RestorePointView[],
    actions: {
      syncNow: act('syncNow'),
      pauseFeed: act('pauseFeed'),
      resumeFeed: act('resumeFeed'),
      pauseTarget: act('pauseTarget'),
      resumeTarget: act('resumeTarget'),
      requestRebaseline: act('requestRebaseline'),
    },
    onUpdate(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    accept(next) {
      snapshot = next;
      receivedAtMs = Date.now();
      for (const sample of next.newSamples) history.push(sample);
      if (next.round) for (const listener of listeners) listener();
    },
    settle(reply) {
      const waiting = pending.get(reply.id);
      if (waiting === undefined) return;
      pending.delete(reply.id);
      if (reply.ok) waiting.resolve(reply.value);
      else
        waiting.reject(
          new StatusError(
            reply.code in STATUS_ERRORS
              ? (reply.code as keyof typeof STATUS_ERRORS)
              : 'EXTENTLOG_ERR_STATUS_ACTION_FAILED',
            reply.message,
          ),
        );
    },
    abandon(reason) {
      for (const waiting of pending.values())
        waiting.reject(new StatusError('EXTENTLOG_ERR_STATUS_ACTION_FAILED', reason));
      pending.clear();
    },
  };
}
