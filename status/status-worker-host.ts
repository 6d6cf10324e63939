/**
 * The replication thread's side of the status worker: starts the worker, keeps it supplied
 * with snapshots of the live view (after every sampling round; on status changes at most
 * every SNAPSHOT_THROTTLE_MS), carries out its requests, and stops it.
 */
import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import { describeError, ExtentlogError } from '../errors/extentlog-error.js';
import { StatusError } from './errors.js';
import type { StatusView } from './status-view.js';
import {
  SNAPSHOT_THROTTLE_MS,
  type FromWorker,
  type HostReply,
  type HostRequest,
  type Snapshot,
  type ToWorker,
  type WorkerSettings,
} from './worker-protocol.js';

const WORKER = new URL('./status-worker.js', import.meta.url);
const CLOSE_TIMEOUT_MS = 10_000;

export interface StatusWorker {
  /** `http://host:port` */
  readonly url: string;
  close(): Promise<void>;
}

export async function startStatusWorker(options: {
  readonly view: StatusView;
  readonly settings: WorkerSettings;
  readonly logger: Logger;
  /** Registers for status changes (between sampling rounds). */
  readonly onChange: (listener: () => void) => () => void;
}): Promise<StatusWorker> {
  const { view, settings, logger } = options;
  const worker = new Worker(WORKER, { workerData: settings });
  const post = (message: ToWorker) => worker.postMessage(message);
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));

  let lastSampleAtMs = -Infinity;
  let metrics = await view.metrics();
  const snapshot = (round: boolean): Snapshot => {
    const overview = view.overview();
    const newSamples = overview.lagHistory.filter((sample) => sample.atMs > lastSampleAtMs);
    lastSampleAtMs = overview.lagHistory.at(-1)?.atMs ?? lastSampleAtMs;
    return {
      type: 'snapshot',
      atMs: overview.generatedAtMs,
      feeds: overview.feeds,
      targets: overview.targets,
      problems: overview.problems,
      newSamples,
      errors: overview.errors,
      readiness: view.readiness(),
      liveness: view.liveness(),
      metrics,
      round,
    };
  };

  let throttle: NodeJS.Timeout | null = null;
  const stopRounds = view.onUpdate(() => {
    void view.metrics().then(
      (rendered) => {
        metrics = rendered;
        post(snapshot(true));
      },
      (error: unknown) => logger.warn({ err: error }, 'rendering the metrics failed'),
    );
  });
  const stopChanges = options.onChange(() => {
    throttle ??= setTimeout(() => {
      throttle = null;
      post(snapshot(false));
    }, SNAPSHOT_THROTTLE_MS);
  });

  const answer = async (request: HostRequest): Promise<HostReply> => {
    try {
      if (request.action === 'restorePoints')
        return { type: 'reply', id: request.id, ok: true, value: await view.restorePoints() };
      const action = view.actions[request.action] as (...args: unknown[]) => Promise<void>;
      await action(...request.args);
      return { type: 'reply', id: request.id, ok: true };
    } catch (error) {
      return {
        type: 'reply',
        id: request.id,
        ok: false,
        code: error instanceof ExtentlogError ? error.code : 'EXTENTLOG_ERR_STATUS_ACTION_FAILED',
        message: describeError(error),
      };
    }
  };

  const listening = new Promise<number>((resolve, reject) => {
    worker.on('message', (message: FromWorker) => {
      switch (message.type) {
        case 'request':
          void answer(message).then(post);
          break;
        case 'log':
          logger[message.level](message.fields, message.message);
          break;
        case 'listening':
          resolve(message.port);
          break;
        case 'failed':
          reject(
            new StatusError(
              'EXTENTLOG_ERR_STATUS_LISTEN',
              `the status API cannot listen on ${settings.host}:${settings.port}: ${message.message}`,
              { details: { host: settings.host, port: settings.port, code: message.code } },
            ),
          );
          break;
        case 'closed':
          break;
      }
    });
    worker.once('error', (error) => {
      logger.error({ err: error }, 'the status API worker failed');
      reject(error);
    });
    void exited.then(() => reject(new Error('the status API worker exited')));
  });

  const stop = async () => {
    stopRounds();
    stopChanges();
    if (throttle !== null) clearTimeout(throttle);
    post({ type: 'close' });
    const timeout = setTimeout(() => void worker.terminate(), CLOSE_TIMEOUT_MS);
    await exited;
    clearTimeout(timeout);
  };

  post(snapshot(true));
  let port: number;
  try {
    port = await listening;
  } catch (error) {
    await stop();
    throw error;
  }
  const host = settings.host.includes(':') ? `[${settings.host}]` : settings.host;
  return { url: `http://${host}:${port}`, close: stop };
}
