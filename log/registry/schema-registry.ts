/**
 * The embedded schema registry: a Confluent-Schema-Registry-compatible REST server (Avro
 * only) on Fastify, with its state in an fsynced journal under `dataDir`. It runs next to
 * the embedded broker (`extentlog broker`) so that one machine needs nothing else; at scale
 * point `schemaRegistry.url` at a Confluent-compatible registry instead.
 *
 * One registry process per data directory.
 */
import path from 'node:path';
import Fastify, {
  LogController,
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyInstance,
} from 'fastify';
import { describeError } from '../../errors/extentlog-error.js';
import { RegistryError } from './errors.js';
import { RegistryHttpError } from './registry-http-error.js';
import { openRegistryJournal } from './registry-journal.js';
import { REGISTRY_CONTENT_TYPE, registryRoutes } from './registry-routes.js';
import { RegistryService } from './registry-service.js';
import { RegistryState, type RegistryChange } from './registry-state.js';

export const REGISTRY_JOURNAL_FILE = 'schema-registry.journal';

export interface SchemaRegistryAppOptions {
  readonly dataDir: string;
  /** A pino-compatible logger; silent when omitted. */
  readonly logger?: FastifyBaseLogger;
}

export interface SchemaRegistryOptions extends SchemaRegistryAppOptions {
  readonly host?: string;
  readonly port?: number;
}

export interface SchemaRegistryApp {
  /** The Fastify instance (not listening): `app.inject()` for tests. */
  readonly app: FastifyInstance;
  close(): Promise<void>;
}

export interface RunningSchemaRegistry {
  /** http://host:port, for `schemaRegistry.url`. */
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

interface HttpAnswer {
  readonly status: number;
  readonly body: { error_code: number; message: string };
}

function httpAnswer(error: FastifyError | RegistryHttpError): HttpAnswer {
  if (error instanceof RegistryHttpError) return { status: error.status, body: error.body() };
  if (error.validation !== undefined)
    return { status: 422, body: { error_code: 422, message: error.message } };
  const status = error.statusCode ?? 500;
  if (status >= 400 && status < 500)
    return { status, body: { error_code: status, message: error.message } };
  return {
    status: 500,
    body: { error_code: 500, message: `Internal Server Error: ${error.message}` },
  };
}

const JSON_CONTENT_TYPES = [REGISTRY_CONTENT_TYPE, 'application/vnd.schemaregistry+json'];

export async function createSchemaRegistryApp({
  dataDir,
  logger,
}: SchemaRegistryAppOptions): Promise<SchemaRegistryApp> {
  const opened = await openRegistryJournal<readonly RegistryChange[]>(
    path.join(dataDir, REGISTRY_JOURNAL_FILE),
  );
  const common = {
    routerOptions: { maxParamLength: 2048 },
    bodyLimit: 16 * 1024 * 1024,
    // Registry calls are rare and each change is logged once it is durable.
    logController: new LogController({ disableRequestLogging: true }),
  };
  const app: FastifyInstance =
    logger === undefined
      ? Fastify({ ...common, logger: false })
      : Fastify({ ...common, loggerInstance: logger });
  try {
    const state = new RegistryState();
    for (const batch of opened.entries) for (const change of batch) state.apply(change);
    if (opened.report.droppedTailBytes > 0)
      app.log.warn(
        `schema registry journal ${opened.journal.path}: dropped a torn last entry (${opened.report.droppedTailBytes} bytes) left by a crash`,
      );
    const service = new RegistryService(state, opened.journal, app.log);

    app.addContentTypeParser(
      JSON_CONTENT_TYPES,
      { parseAs: 'string' },
      app.getDefaultJsonParser('error', 'error'),
    );
    app.addHook('onRequest', async (_request, reply) => {
      reply.type(REGISTRY_CONTENT_TYPE);
    });
    app.setErrorHandler<FastifyError | RegistryHttpError>((error, request, reply) => {
      const answer = httpAnswer(error);
      if (answer.status >= 500) request.log.error({ err: error }, 'schema registry request failed');
      return reply.status(answer.status).type(REGISTRY_CONTENT_TYPE).send(answer.body);
    });
    app.setNotFoundHandler((request, reply) =>
      reply
        .status(404)
        .type(REGISTRY_CONTENT_TYPE)
        .send({ error_code: 404, message: `HTTP 404 Not Found: ${request.method} ${request.url}` }),
    );
    registryRoutes(app, service);
    await app.ready();
  } catch (error) {
    await opened.journal.close();
    throw error;
  }
  return {
    app,
    async close() {
      await app.close();
      await opened.journal.close();
    },
  };
}

export async function startSchemaRegistry({
  host = '127.0.0.1',
  port = 0,
  ...options
}: SchemaRegistryOptions): Promise<RunningSchemaRegistry> {
  const registry = await createSchemaRegistryApp(options);
  try {
    await registry.app.listen({ host, port });
  } catch (error) {
    await registry.close();
    throw new RegistryError(
      'EXTENTLOG_ERR_REGISTRY_LISTEN',
      `schema registry: cannot listen on ${host}:${port}: ${describeError(error)}`,
      { cause: error, details: { host, port } },
    );
  }
  const address = registry.app.server.address();
  const boundPort = typeof address === 'object' && address !== null ? address.port : port;
  const urlHost = host.includes(':') ? `[${host}]` : host;
  return { url: `http://${urlHost}:${boundPort}`, port: boundPort, close: registry.close };
}
