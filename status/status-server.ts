/**
 * Starting the status API. `createStatusServer` mounts the app on the live view in this
 * thread, without listening (tests drive it with `app.inject()` and `sampler.sampleNow()`).
 * `startStatusServer`, what a running process uses, measures in this thread and serves
 * from a worker thread (status-worker.ts), so that status reads stay fast while this
 * thread's event loop is busy replicating. It binds to 127.0.0.1 unless told otherwise.
 */
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { bearerToken } from './bearer-token.js';
import { buildStatusApp } from './status-app.js';
import { createStatusMonitor, type StatusMonitorOptions } from './status-monitor.js';
import type { StatusSampler } from './status-sampler.js';
import { startStatusWorker } from './status-worker-host.js';

export interface StatusServer {
  readonly app: FastifyInstance;
  readonly sampler: StatusSampler;
  close(): Promise<void>;
}

export async function createStatusServer(
  options: StatusMonitorOptions & {
    /** null: every action answers 403 (no token file configured). */
    readonly token: string | null;
    readonly logger: FastifyBaseLogger;
  },
): Promise<StatusServer> {
  const monitor = createStatusMonitor(options);
  const app = await buildStatusApp({
    view: monitor.view,
    token: options.token === null ? null : bearerToken(options.token),
    logger: options.logger,
  });
  return {
    app,
    sampler: monitor.sampler,
    async close() {
      await monitor.close();
      await app.close();
    },
  };
}

export interface RunningStatusServer {
  /** `http://host:port` */
  readonly url: string;
  close(): Promise<void>;
}

export async function startStatusServer(
  options: StatusMonitorOptions & {
    readonly token: string | null;
    readonly logger: Logger;
    readonly host: string;
    readonly port: number;
  },
): Promise<RunningStatusServer> {
  const monitor = createStatusMonitor(options);
  try {
    const worker = await startStatusWorker({
      view: monitor.view,
      settings: {
        host: options.host,
        port: options.port,
        token: options.token,
        historySamples: options.historySamples,
        // Well above the sampling interval: a busy round is not a stuck thread.
        stallLimitMs: Math.max(30_000, 5 * options.sampleIntervalMs),
      },
      logger: options.logger,
      onChange: (listener) => options.model.subscribe(listener),
    });
    monitor.sampler.start();
    return {
      url: worker.url,
      async close() {
        await worker.close();
        await monitor.close();
      },
    };
  } catch (error) {
    await monitor.close();
    throw error;
  }
}
