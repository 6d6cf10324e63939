/**
 * The status API of one extentlog process (Fastify): JSON over HTTP/1.1 under `/api/v1`,
 * health and readiness, Prometheus metrics, the status page with its event stream, and the
 * OpenAPI 3.1 document of all of it at `/openapi.json`. Reads are open; actions need the
 * bearer token. The app answers from a `StatusView`, live or mirrored into a worker.
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
import { loadPageAssets } from './page-assets.js';
import { feedRoutes } from './routes/feed-routes.js';
import { healthRoutes } from './routes/health-routes.js';
import { metricsRoute } from './routes/metrics-route.js';
import { pageRoutes } from './routes/page-routes.js';
import { restorePointRoutes } from './routes/restore-point-routes.js';
import type { RouteContext } from './routes/route-context.js';
import { targetRoutes } from './routes/target-routes.js';
import type { StatusView } from './status-view.js';
import { formatValidationErrors } from './validation-message.js';

export interface StatusAppOptions {
  readonly view: StatusView;
  /** null: every action answers 403 (no token file configured). */
  readonly token: BearerToken | null;
  readonly logger: FastifyBaseLogger;
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

/** Builds the app, ready for `inject()` or `listen()`. */
export async function buildStatusApp(options: StatusAppOptions): Promise<FastifyInstance> {
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
  const context: RouteContext = {
    view: options.view,
    token: options.token,
    logger: options.logger,
  };
  healthRoutes(app, context);
  feedRoutes(app, context);
  targetRoutes(app, context);
  restorePointRoutes(app, context);
  metricsRoute(app, context);
  pageRoutes(app, context, loadPageAssets());
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  await app.ready();
  return app;
}
