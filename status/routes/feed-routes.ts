/**
 * Feeds: what each disk's sync cycles are doing and did (`GET`), and the operator's levers
 * (`POST`, bearer token): a cycle now, pause/resume, a re-baseline (the next cycle is FULL).
 */
import type { FastifyInstance } from 'fastify';
import {
  acceptedResponse,
  ERROR_RESPONSES,
  feedDiskParams,
  feedParams,
  rebaselineBody,
  syncBody,
} from '../api-schemas.js';
import { authorizeAction } from './authorize-action.js';
import { findNamed, notFound } from './not-found.js';
import { pauseRoutes } from './pause-routes.js';
import type { RouteContext } from './route-context.js';

interface FeedRoute {
  Params: { feed: string };
}
interface FeedDiskRoute {
  Params: { feed: string; disk: string };
}

const security = [{ bearer: [] }];

export function feedRoutes(app: FastifyInstance, context: RouteContext): void {
  const { view } = context;
  const { actions } = view;
  const findFeed = (name: string) => findNamed('feed', view.feeds(), name, (item) => item.feed);
  const audit = (action: string, fields: Record<string, unknown>, remote: string) =>
    context.logger.info({ action, ...fields, remote }, 'status API action');

  app.get(
    '/api/v1/feeds',
    {
      schema: {
        tags: ['feeds'],
        summary: 'Every feed of this process with its disks',
        response: {
          200: {
            type: 'object',
            additionalProperties: false,
            required: ['feeds'],
            properties: { feeds: { type: 'array', items: { $ref: 'Feed#' } } },
          },
        },
      },
    },
    async () => ({ feeds: view.feeds() }),
  );

  app.get<FeedRoute>(
    '/api/v1/feeds/:feed',
    {
      schema: {
        tags: ['feeds'],
        summary: 'One feed',
        params: feedParams,
        response: { 200: { $ref: 'Feed#' }, ...ERROR_RESPONSES },
      },
    },
    async (request) => findFeed(request.params.feed),
  );

  const actionOptions = { onRequest: authorizeAction(context) };

  app.post<FeedRoute & { Body: { disks?: string[] } | null }>(
    '/api/v1/feeds/:feed/sync',
    {
      ...actionOptions,
      schema: {
        tags: ['actions'],
        summary: 'Start a sync cycle of the feed (or of some of its disks) now',
        security,
        params: feedParams,
        body: syncBody,
        response: {
          202: acceptedResponse({
            feed: { type: 'string' },
            disks: { type: 'array', items: { type: 'string' } },
          }),
          ...ERROR_RESPONSES,
        },
      },
    },
    async (request, reply) => {
      const feed = findFeed(request.params.feed);
      const known = feed.disks.map((disk) => disk.diskId);
      const disks = request.body?.disks ?? known;
      for (const disk of disks) if (!known.includes(disk)) throw notFound('disk', disk, known);
      await actions.syncNow(feed.feed, request.body?.disks);
      audit('sync', { feed: feed.feed, disks }, request.ip);
      return reply.code(202).send({ accepted: true, feed: feed.feed, disks });
    },
  );

  pauseRoutes(app, context, {
    kind: 'feed',
    find: (name) => findFeed(name).feed,
    pause: (name) => actions.pauseFeed(name),
    resume: (name) => actions.resumeFeed(name),
    summaries: {
      pause: 'Pause the feed: no new cycles or heartbeats (a running cycle finishes)',
      resume: 'Resume the feed (queued cycles start)',
    },
  });

  app.post<FeedDiskRoute & { Body: { reason: string; syncNow?: boolean } }>(
    '/api/v1/feeds/:feed/disks/:disk/rebaseline',
    {
      ...actionOptions,
      schema: {
        tags: ['actions'],
        summary: "Make the disk's next cycle FULL (and start it now unless syncNow is false)",
        security,
        params: feedDiskParams,
        body: rebaselineBody,
        response: {
          202: acceptedResponse({
            feed: { type: 'string' },
            disk: { type: 'string' },
            reason: { type: 'string' },
            syncNow: { type: 'boolean' },
          }),
          ...ERROR_RESPONSES,
        },
      },
    },
    async (request, reply) => {
      const feed = findFeed(request.params.feed);
      const known = feed.disks.map((disk) => disk.diskId);
      const { disk } = request.params;
      if (!known.includes(disk)) throw notFound('disk', disk, known);
      const { reason } = request.body;
      const syncNow = request.body.syncNow ?? true;
      await actions.requestRebaseline(feed.feed, disk, reason, syncNow);
      audit('rebaseline', { feed: feed.feed, disk, reason, syncNow }, request.ip);
      return reply.code(202).send({ accepted: true, feed: feed.feed, disk, reason, syncNow });
    },
  );
}
