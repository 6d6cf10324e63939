/**
 * Liveness and readiness, for systemd watchdogs, load balancers and Kubernetes probes.
 * `/healthz` answers 200 while the process works (503 when its replication thread stopped
 * answering the status thread). `/readyz` answers 200 once the process measured its
 * targets' lag from the log recently (the log is reachable), else 503.
 */
import type { FastifyInstance } from 'fastify';
import type { RouteContext } from './route-context.js';

const check = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'ok', 'detail'],
  properties: { name: { type: 'string' }, ok: { type: 'boolean' }, detail: { type: 'string' } },
} as const;

const readiness = {
  type: 'object',
  additionalProperties: false,
  required: ['ready', 'checks'],
  properties: { ready: { type: 'boolean' }, checks: { type: 'array', items: check } },
} as const;

export function healthRoutes(app: FastifyInstance, context: RouteContext): void {
  app.get(
    '/healthz',
    {
      schema: {
        tags: ['health'],
        summary: 'Liveness: the process is running and its replication thread answers',
        response: { 200: check, 503: check },
      },
    },
    async (_request, reply) => {
      const liveness = context.view.liveness();
      return reply.code(liveness.ok ? 200 : 503).send(liveness);
    },
  );

  app.get(
    '/readyz',
    {
      schema: {
        tags: ['health'],
        summary: 'Readiness: the log answered the last lag measurement',
        response: { 200: readiness, 503: readiness },
      },
    },
    async (_request, reply) => {
      const answer = context.view.readiness();
      return reply.code(answer.ready ? 200 : 503).send(answer);
    },
  );
}
