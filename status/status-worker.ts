/**
 * The status worker thread's entry: serves the status API from the host's snapshots (see
 * worker-protocol.ts) on its own event loop, so that its answers never queue behind the
 * replication thread's work — a FULL sync that keeps that loop busy does not slow a probe.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { pino } from 'pino';
import { describeError, ExtentlogError } from '../errors/extentlog-error.js';
import { bearerToken } from './bearer-token.js';
import { createMirroredStatusView } from './mirrored-status-view.js';
import { buildStatusApp } from './status-app.js';
import type { FromWorker, Snapshot, ToWorker, WorkerSettings } from './worker-protocol.js';

const LEVELS: Record<number, 'info' | 'warn' | 'error'> = { 30: 'info', 40: 'warn', 50: 'error' };

async function main(): Promise<void> {
  const host = parentPort;
  if (host === null) throw new Error('status-worker.js runs as a worker thread');
  const settings = workerData as WorkerSettings;
  const send = (message: FromWorker) => host.postMessage(message);
  // Log lines travel to the host, which writes them with its own logger.
  const logger = pino(
    { level: 'info' },
    {
      write(line: string) {
        const {
          level,
          msg,
          time: _time,
          pid: _pid,
          hostname: _host,
          ...fields
        } = JSON.parse(line) as Record<string, unknown>;
        send({
          type: 'log',
          level: LEVELS[level as number] ?? 'error',
          fields,
          message: String(msg ?? ''),
        });
      },
    },
  );
  const first = await new Promise<Snapshot>((resolve) => {
    const wait = (message: ToWorker) => {
      if (message.type !== 'snapshot') return;
      host.off('message', wait);
      resolve(message);
    };
    host.on('message', wait);
  });
  const view = createMirroredStatusView({
    first,
    historySamples: settings.historySamples,
    stallLimitMs: settings.stallLimitMs,
    send,
  });
  const app = await buildStatusApp({
    view,
    token: settings.token === null ? null : bearerToken(settings.token),
    logger,
  });
  host.on('message', (message: ToWorker) => {
    if (message.type === 'snapshot') view.accept(message);
    else if (message.type === 'reply') view.settle(message);
    else if (message.type === 'close') {
      view.abandon('the status API is closing');
      void app.close().finally(() => {
        send({ type: 'closed' });
        host.close();
      });
    }
  });
  try {
    await app.listen({ host: settings.host, port: settings.port });
  } catch (error) {
    send({
      type: 'failed',
      code: error instanceof ExtentlogError ? error.code : 'EXTENTLOG_ERR_STATUS_LISTEN',
      message: describeError(error),
    });
    host.close();
    return;
  }
  const address = app.server.address();
  send({
    type: 'listening',
    port: typeof address === 'object' && address !== null ? address.port : settings.port,
  });
}

main().catch((error: unknown) => {
  parentPort?.postMessage({
    type: 'failed',
    code: error instanceof ExtentlogError ? error.code : 'EXTENTLOG_ERR_STATUS_LISTEN',
    message: describeError(error),
  } satisfies FromWorker);
  parentPort?.close();
});
