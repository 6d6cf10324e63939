/**
 * The status page and what it reads: the page itself (`/`, plain HTML, CSS and JS served
 * from this process, nothing from elsewhere), one overview document with everything it
 * shows, and a Server-Sent Events stream (`text/event-stream`, WHATWG HTML §9.2) that
 * pushes a fresh overview after every lag sampling round. Also the lag history and recent
 * errors on their own, for scripts.
 */
import type { ServerResponse } from 'node:http';
import type { FastifyInstance } from 'fastify';
import { lagSampleList, overviewResponse } from '../api-schemas.js';
import type { PageAsset, PageFile } from '../page-assets.js';
import type { RouteContext } from './route-context.js';

/** Comment lines that keep idle proxies from closing the stream. */
const KEEP_ALIVE_MS = 15_000;

const CONTENT_SECURITY_POLICY =
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

export function pageRoutes(
  app: FastifyInstance,
  context: RouteContext,
  assets: ReadonlyMap<PageFile, PageAsset>,
): void {
  const serve = (path: string, file: PageFile, summary: string) =>
    app.get(
      path,
      {
        schema: {
          tags: ['page'],
          summary,
          produces: [file],
          response: { 200: { type: 'string' } },
        },
      },
      async (_request, reply) => {
        const asset = assets.get(file)!;
        return reply
          .type(asset.contentType)
          .header('content-security-policy', CONTENT_SECURITY_POLICY)
          .header('x-content-type-options', 'nosniff')
          .header('cache-control', 'no-cache')
          .send(asset.body);
      },
    );
  serve('/', 'status-page.html', 'The status page');
  serve('/status-page.css', 'status-page.css', "The status page's style sheet");
  serve('/status-page.js', 'status-page.js', "The status page's script");

  const { view } = context;

  app.get(
    '/api/v1/overview',
    {
      schema: {
        tags: ['page'],
        summary: 'Everything the status page shows, in one document',
        response: { 200: overviewResponse },
      },
    },
    async () => view.overview(),
  );

  app.get(
    '/api/v1/lag-history',
    {
      schema: {
        tags: ['targets'],
        summary: 'Lag of every target per sampling round, oldest first',
        response: {
          200: {
            type: 'object',
            additionalProperties: false,
            required: ['samples'],
            properties: { samples: lagSampleList },
          },
        },
      },
    },
    async () => ({ samples: view.lagHistory() }),
  );

  app.get(
    '/api/v1/errors',
    {
      schema: {
        tags: ['feeds', 'targets'],
        summary: 'Recent errors of feeds and targets, newest first',
        response: {
          200: {
            type: 'object',
            additionalProperties: false,
            required: ['errors'],
            properties: { errors: { type: 'array', items: { $ref: 'ErrorEvent#' } } },
          },
        },
      },
    },
    async () => ({ errors: view.recentErrors() }),
  );

  const streams = new Set<ServerResponse>();
  app.addHook('preClose', async () => {
    for (const stream of streams) stream.end();
    streams.clear();
  });
  app.get(
    '/api/v1/events',
    {
      schema: {
        tags: ['page'],
        summary:
          "Server-Sent Events: an 'overview' event (the /api/v1/overview document) now and after every sampling round",
        produces: ['text/event-stream'],
        response: { 200: { type: 'string' } },
      },
    },
    (request, reply) => {
      void reply.hijack();
      const stream = reply.raw;
      stream.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-store',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
      });
      streams.add(stream);
      const send = () => {
        // A client that does not read gets no backlog: it catches up with the next round.
        if (stream.writableNeedDrain || stream.writableEnded) return;
        stream.write(`event: overview\ndata: ${JSON.stringify(view.overview())}\n\n`);
      };
      send();
      const unsubscribe = view.onUpdate(send);
      const keepAlive = setInterval(() => stream.write(': keep-alive\n\n'), KEEP_ALIVE_MS);
      keepAlive.unref();
      request.raw.on('close', () => {
        unsubscribe();
        clearInterval(keepAlive);
        streams.delete(stream);
      });
    },
  );
}
