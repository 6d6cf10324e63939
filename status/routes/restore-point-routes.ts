/**
 * Restore points per target and disk, newest first: what the compacted restore-points
 * topic retains (compaction keeps at least the latest of each target and disk), joined
 * with the latest ones this process's replays announced. The topic is read at most every
 * `REREAD_MS`; concurrent requests share one read.
 */
import type { FastifyInstance } from 'fastify';
import { ERROR_RESPONSES, restorePointsQuery } from '../api-schemas.js';
import type { RestorePointView } from '../read-model.js';
import type { RouteContext } from './route-context.js';

const REREAD_MS = 2000;

interface RestorePointsRoute {
  Querystring: { target?: string; feed?: string; disk?: string };
}

interface RestorePointGroup {
  target: string;
  feed: string;
  disk: string;
  points: RestorePointView[];
}

export function restorePointRoutes(app: FastifyInstance, context: RouteContext): void {
  let cached: { atMs: number; points: Promise<readonly RestorePointView[]> } | null = null;
  const logPoints = () => {
    const nowMs = Date.now();
    if (cached === null || nowMs - cached.atMs >= REREAD_MS) {
      const points = context.view.restorePoints();
      cached = { atMs: nowMs, points };
      points.catch(() => {
        if (cached?.points === points) cached = null;
      });
    }
    return cached.points;
  };

  app.get<RestorePointsRoute>(
    '/api/v1/restore-points',
    {
      schema: {
        tags: ['restore points'],
        summary: 'Restore points per target and disk, newest first',
        querystring: restorePointsQuery,
        response: {
          200: {
            type: 'object',
            additionalProperties: false,
            required: ['restorePoints'],
            properties: {
              restorePoints: {
                type: 'array',
                items: {
                  type: 'object',
                  additionalProperties: false,
                  required: ['target', 'feed', 'disk', 'points'],
                  properties: {
                    target: { type: 'string' },
                    feed: { type: 'string' },
                    disk: { type: 'string' },
                    points: { type: 'array', items: { $ref: 'RestorePoint#' } },
                  },
                },
              },
            },
          },
          ...ERROR_RESPONSES,
        },
      },
    },
    async (request) => {
      const { target, feed, disk } = request.query;
      const live = context.view
        .targets()
        .flatMap((view) => view.disks.flatMap((entry) => entry.lastRestorePoint ?? []));
      const groups = new Map<string, RestorePointGroup>();
      for (const point of [...(await logPoints()), ...live]) {
        if (target !== undefined && point.target !== target) continue;
        if (feed !== undefined && point.feed !== feed) continue;
        if (disk !== undefined && point.disk !== disk) continue;
        const key = `${point.target}\u0000${point.feed}\u0000${point.disk}`;
        let group = groups.get(key);
        if (group === undefined) {
          group = { target: point.target, feed: point.feed, disk: point.disk, points: [] };
          groups.set(key, group);
        }
        if (!group.points.some((known) => known.epoch === point.epoch)) group.points.push(point);
      }
      const restorePoints = [...groups.values()]
        .map((group) => ({ ...group, points: group.points.sort((a, b) => b.epoch - a.epoch) }))
        .sort(
          (a, b) =>
            a.target.localeCompare(b.target) ||
            a.feed.localeCompare(b.feed) ||
            a.disk.localeCompare(b.disk),
        );
      return { restorePoints };
    },
  );
}
