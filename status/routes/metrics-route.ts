/** `GET /metrics`: the Prometheus text exposition (see status-metrics.ts for the names). */
import type { FastifyInstance } from 'fastify';
import type { RouteContext } from './route-context.js';

export function metricsRoute(app: FastifyInstance, context: RouteContext): void {
  app.get(
    '/metrics',
    {
      schema: {
        tags: ['metrics'],
        summary: 'Prometheus metrics (text exposition format 0.0.4)',
        produces: ['text/plain'],
        response: { 200: { type: 'string' } },
      },
    },
    async (_request, reply) => {
      const { contentType, text } = await context.view.metrics();
      return reply.type(contentType).send(text);
    },
  );
}
