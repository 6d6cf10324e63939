/**
 * `POST …/{name}/pause` and `…/{name}/resume` for feeds and targets alike (bearer token).
 * Both are idempotent: pausing a paused feed or target changes nothing.
 */
import type { FastifyInstance } from 'fastify';
import { ERROR_RESPONSES, feedParams, targetParams } from '../api-schemas.js';
import { authorizeAction } from './authorize-action.js';
import type { RouteContext } from './route-context.js';

export interface Pausable {
  readonly kind: 'feed' | 'target';
  /** The canonical name, or a 404 for an unknown one. */
  find(name: string): string;
  pause(name: string): Promise<void>;
  resume(name: string): Promise<void>;
  readonly summaries: { readonly pause: string; readonly resume: string };
}

export function pauseRoutes(app: FastifyInstance, context: RouteContext, pausable: Pausable): void {
  const { kind } = pausable;
  for (const verb of ['pause', 'resume'] as const) {
    app.post<{ Params: Record<string, string> }>(
      `/api/v1/${kind}s/:${kind}/${verb}`,
      {
        onRequest: authorizeAction(context),
        schema: {
          tags: ['actions'],
          summary: pausable.summaries[verb],
          security: [{ bearer: [] }],
          params: kind === 'feed' ? feedParams : targetParams,
          response: {
            200: {
              type: 'object',
              additionalProperties: false,
              required: [kind, 'paused'],
              properties: { [kind]: { type: 'string' }, paused: { type: 'boolean' } },
            },
            ...ERROR_RESPONSES,
          },
        },
      },
      async (request) => {
        const name = pausable.find(request.params[kind]!);
        await pausable[verb](name);
        context.logger.info(
          { action: verb, [kind]: name, remote: request.ip },
          'status API action',
        );
        return { [kind]: name, paused: verb === 'pause' };
      },
    );
  }
}
