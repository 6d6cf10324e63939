/**
 * Targets: each one's consumer group, lag (records, bytes, seconds), restore points and
 * apply throughput (`GET`); pause and resume (`POST`, bearer token). A paused target keeps
 * its group membership and offsets; its lag grows until it is resumed.
 */
import type { FastifyInstance } from 'fastify';
import { ERROR_RESPONSES, targetParams } from '../api-schemas.js';
import { findNamed } from './not-found.js';
import { pauseRoutes } from './pause-routes.js';
import type { RouteContext } from './route-context.js';

interface TargetRoute {
  Params: { target: string };
}

export function targetRoutes(app: FastifyInstance, context: RouteContext): void {
  const { view } = context;
  const { actions } = view;
  const findTarget = (name: string) =>
    findNamed('target', view.targets(), name, (item) => item.target);

  app.get(
    '/api/v1/targets',
    {
      schema: {
        tags: ['targets'],
        summary: 'Every target of this process with its lag and restore points',
        response: {
          200: {
            type: 'object',
            additionalProperties: false,
            required: ['targets'],
            properties: { targets: { type: 'array', items: { $ref: 'Target#' } } },
          },
        },
      },
    },
    async () => ({ targets: view.targets() }),
  );

  app.get<TargetRoute>(
    '/api/v1/targets/:target',
    {
      schema: {
        tags: ['targets'],
        summary: 'One target',
        params: targetParams,
        response: { 200: { $ref: 'Target#' }, ...ERROR_RESPONSES },
      },
    },
    async (request) => findTarget(request.params.target),
  );

  pauseRoutes(app, context, {
    kind: 'target',
    find: (name) => findTarget(name).target,
    pause: (name) => actions.pauseTarget(name),
    resume: (name) => actions.resumeTarget(name),
    summaries: {
      pause: 'Pause the target: stop fetching and applying (offsets and group membership stay)',
      resume: 'Resume the target (a disk stopped by an error is retried)',
    },
  });
}
