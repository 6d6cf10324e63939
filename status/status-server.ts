/**
 * The status API of one extentlog process (Fastify): JSON over HTTP/1.1 under `/api/v1`,
 * health and readiness, Prometheus metrics, the status page with its event stream, and the
 * OpenAPI 3.1 document of all of it at `/openapi.json`. Reads are open; actions need the
 * bearer token. It binds to 127.0.0.1 unless told otherwise.
 *
 * `createStatusServer` builds it without listening (tests drive it with `app.inject()` and
 * `sampler.sampleNow()`); `startStatusServer` also starts sampling and listens.
 */
import swagger from '@fastify/swagger';
import Fastify, {
  LogController,
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
} from 'fastify';
import { describeError, ExtentlogError } from '../errors/extentlog-error.js';
import { SHARED_SCHEMAS } from './api-schemas.js';
import type { BearerToken } from './bearer-token.js';
import { ErrorLog } from './error-log.js';
import { StatusError } from './errors.js';
import { LagBytesEstimator, type LagBytesOptions } from './lag-bytes.js';
import { loadPageAssets } from './page-assets.js';
import type { StatusActions, StatusReadModel } from './read-model.js';
import { feedRoutes } from './routes/feed-routes.js';
import { healthRoutes } from './routes/health-routes.js';
import { metricsRoute } from './routes/metrics-route.js';
import { pageRoutes } from './routes/page-routes.js';
import { restorePointRoutes } from './routes/restore-point-routes.js';
import type { RouteContext } from './routes/route-context.js';
import { targetRoutes } from './routes/target-routes.js';
import { formatValidationErrors } from './validation-message.js';
import { createStatusMetrics } from './status-metrics.js';
import { StatusSampler } from './status-sampler.js';

export interface StatusServerOptions {
  readonly model: StatusReadModel;
  readonly actions: StatusActions;
  /** null: every action answers 403 (no token file configured). */
  readonly token: BearerToken | null;
  readonly logger: FastifyBaseLogger;
  /** How often targets' lag is measured (and the page updated). */
  readonly sampleIntervalMs: number;
  /** Lag samples kept for the chart. */
  readonly historySamples: number;
  readonly lagBytes?: Omit<LagBytesOptions, 'log' | 'now'>;
  readonly now?: () => number;
}

export interface StatusServer {
  readonly app: FastifyInstance;
  readonly sampler: StatusSampler;
  close(): Promise<void>;
}

export interface RunningStatusServer extends StatusServer {
  /** `http://host:port` */
  readonly url: string;
}

const HTTP_STATUS: Record<string, number> = {
  EXTENTLOG_ERR_STATUS_BAD_REQUEST: 400,
  EXTENTLOG_ERR_STATUS_UNAUTHORIZED: 401,
  EXTENTLOG_ERR_STATUS_ACTIONS_DISABLED: 403,
  EXTENTLOG_ERR_STATUS_NOT_FOUND: 404,
  EXTENTLOG_ERR_STATUS_ACTION_FAILED: 409,
};

const REASON: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  409: 'Conflict',
  500: 'Internal Server Error',
};

function sendError(reply: FastifyReply, statusCode: number, code: string, message: string) {
  return reply
    .code(statusCode)
    .send({ statusCode, code, error: REASON[statusCode] ?? 'Error', message });
}

export async function createStatusServer(options: StatusServerOptions): Promise<StatusServer> {
  const now = options.now ?? Date.now;
  const roundListeners = new Set<() => void>();
  let metrics: ReturnType<typeof createStatusMetrics> | null = null;
  const errors = new ErrorLog({
    capacity: 100,
    onError: (event) => metrics?.onError(event),
    onCycle: (event) => metrics?.onCycle(event),
  });
  const observe = () => errors.observe(options.model.feeds(), options.model.targets());
  const sampler = new StatusSampler({
    model: options.model,
    bytes: new LagBytesEstimator({ ...options.lagBytes, log: options.model.log, now }),
    intervalMs: options.sampleIntervalMs,
    historySamples: options.historySamples,
    now,
    onRound: () => {
      observe();
      for (const listener of roundListeners) listener();
    },
    onError: (error) => options.logger.warn({ err: error }, 'measuring target lag failed'),
  });
  metrics = createStatusMetrics(options.model, sampler);
  // Status changes arrive in bursts (every applied batch): look at them once per turn.
  let observing: NodeJS.Immediate | null = null;
  const unsubscribe = options.model.subscribe(() => {
    observing ??= setImmediate(() => {
      observing = null;
      observe();
    });
  });

  const context: RouteContext = {
    model: options.model,
    actions: options.actions,
    sampler,
    errors,
    metrics,
    token: options.token,
    logger: options.logger,
    now,
    readyWithinMs: Math.max(5000, 3 * options.sampleIntervalMs),
    onRound(listener) {
      roundListeners.add(listener);
      return () => roundListeners.delete(listener);
    },
  };

  const app = Fastify({
    loggerInstance: options.logger,
    // The page polls and streams all day: requests are not worth a log line each.
    logController: new LogController({ disableRequestLogging: true }),
    // Unknown fields are errors, not silently dropped, and a number is no string (Fastify's
    // defaults remove unknown fields and coerce types).
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, allErrors: false } },
    schemaErrorFormatter: (validationErrors, dataVar) =>
      new Error(formatValidationErrors(validationErrors, dataVar)),
  });
  app.setErrorHandler((error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    if (error.validation !== undefined)
      return sendError(reply, 400, 'EXTENTLOG_ERR_STATUS_BAD_REQUEST', error.message);
    if (error instanceof ExtentlogError) {
      const statusCode = HTTP_STATUS[error.code] ?? 500;
      if (statusCode === 500)
        request.log.error({ err: error, url: request.url }, 'status API request failed');
      return sendError(reply, statusCode, error.code, error.message);
    }
    if (typeof error.statusCode === 'number' && error.statusCode >= 400 && error.statusCode < 500)
      return sendError(
        reply,
        error.statusCode === 415 || error.statusCode === 413 ? 400 : error.statusCode,
        'EXTENTLOG_ERR_STATUS_BAD_REQUEST',
        error.message,
      );
    request.log.error({ err: error, url: request.url }, 'status API request failed');
    return sendError(reply, 500, 'EXTENTLOG_ERR_STATUS_ACTION_FAILED', describeError(error));
  });
  app.setNotFoundHandler((request, reply) =>
    sendError(
      reply,
      404,
      'EXTENTLOG_ERR_STATUS_NOT_FOUND',
      `no route ${request.method} ${request.url.split('?')[0]}; the API is described at /openapi.json`,
    ),
  );

  await app.register(swagger, {
    // Shared schemas keep their $id as their component name.
    refResolver: {
      buildLocalReference: (json, _baseUri, _fragment, index) =>
        typeof json.$id === 'string' ? json.$id : `schema-${index}`,
    },
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'extentlog status API',
        version: '1',
        description:
          'Feeds, targets, lag and restore points of one extentlog process, and the actions an operator takes on them.',
      },
      components: {
        securitySchemes: {
          bearer: {
            type: 'http',
            scheme: 'bearer',
            description: 'the token in the file named by status.tokenFile',
          },
        },
      },
    },
  });
  for (const schema of SHARED_SCHEMAS) app.addSchema(schema);
  healthRoutes(app, context);
  feedRoutes(app, context);
  targetRoutes(app, context);
  restorePointRoutes(app, context);
  metricsRoute(app, context);
  pageRoutes(app, context, loadPageAssets());
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  await app.ready();

  return {
    app,
    sampler,
    async close() {
      unsubscribe();
      if (observing !== null) clearImmediate(observing);
      await sampler.stop();
      await app.close();
    },
  };
}

export async function startStatusServer(
  options: StatusServerOptions & { readonly host: string; readonly port: number },
): Promise<RunningStatusServer> {
  const server = await createStatusServer(options);
  try {
    await server.app.listen({ host: options.host, port: options.port });
  } catch (error) {
    await server.close();
    throw new StatusError(
      'EXTENTLOG_ERR_STATUS_LISTEN',
      `the status API cannot listen on ${options.host}:${options.port}: ${describeError(error)}`,
      { cause: error, details: { host: options.host, port: options.port } },
    );
  }
  server.sampler.start();
  const address = server.app.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : options.port;
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  return { ...server, url: `http://${host}:${port}` };
}
