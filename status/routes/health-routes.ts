/**
 * Liveness and readiness, for systemd watchdogs, load balancers and Kubernetes probes.
 * `/healthz` answers while the event loop runs. `/readyz` answers 200 once the process
 * measured its targets' lag from the log recently (the log is reachable), else 503.
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
        summary: 'Liveness: the process is running',
        response: {
          200: {
            type: 'object',
            additionalProperties: false,
            required: ['status', 'uptimeSeconds'],
            properties: {
              status: { type: 'string', const: 'ok' },
              uptimeSeconds: { type: 'number' },
            },
          },
        },
      },
    },
    async () => ({ status: 'ok', uptimeSeconds: process.uptime() }),
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
      const { sampler } = context;
      const nowMs = context.now();
      const last = sampler.lastSuccessAtMs;
      const logOk = last !== null && nowMs - last <= context.readyWithinMs;
      const checks = [
        {
          name: 'log',
          ok: logOk,
          detail:
            last === null
              ? (sampler.lastError?.message ?? 'no lag measurement yet')
              : logOk
                ? `lag measured ${nowMs - last} ms ago`
                : `last lag measurement ${nowMs - last} ms ago${sampler.lastError === null ? '' : `: ${sampler.lastError.message}`}`,
        },
      ];
      const ready = checks.every((entry) => entry.ok);
      return reply.code(ready ? 200 : 503).send({ ready, checks });
    },
  );
}
