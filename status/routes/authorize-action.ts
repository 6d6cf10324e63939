/**
 * The guard in front of every action route (an onRequest hook, so it runs before the body
 * is parsed or validated): no token configured → 403, a missing or wrong bearer token →
 * 401 with `WWW-Authenticate: Bearer` (RFC 6750 §3). Every decision is logged without the
 * credential itself.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { StatusError } from '../errors.js';
import type { RouteContext } from './route-context.js';

export function authorizeAction(context: RouteContext) {
  return async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const where = { method: request.method, url: request.url, remote: request.ip };
    if (context.token === null) {
      context.logger.warn(where, 'action refused: no status token configured');
      throw new StatusError(
        'EXTENTLOG_ERR_STATUS_ACTIONS_DISABLED',
        'actions are disabled on this status API: set status.tokenFile in the configuration and restart',
      );
    }
    if (!context.token.accepts(request.headers.authorization)) {
      context.logger.warn(where, 'action refused: missing or wrong bearer token');
      void reply.header('www-authenticate', 'Bearer realm="extentlog"');
      throw new StatusError(
        'EXTENTLOG_ERR_STATUS_UNAUTHORIZED',
        request.headers.authorization === undefined
          ? "this action needs 'Authorization: Bearer <token>' with the token from status.tokenFile"
          : 'the bearer token does not match status.tokenFile',
      );
    }
  };
}
