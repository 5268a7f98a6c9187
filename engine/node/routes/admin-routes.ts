/**
 * Admin-only routes (tokens with the admin claim, `role: "admin"` by default): the event feed and analytics. Everyone
 * else gets 403; the check is a hook of this plugin, so it covers these routes and no others.
 */
import type { Static } from '@sinclair/typebox';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { ParleyError } from '../../../protocol/index.js';
import { Queries, Responses } from '../../../protocol/schema/index.js';
import { analyticsReport } from '../../../projections/index.js';
import type { EventStore } from '../../store/index.js';
import { streamFeed, type FeedQuery } from '../event-feed.js';
import type { ReadAccess } from './read-access.js';
import { errorResponses } from './responses.js';

export interface AdminRoutesDeps {
  /** The log the feed streams from. */
  readonly store: EventStore;
  readonly reads: ReadAccess;
}

/** An onRequest hook, after `authenticate`: the route needs an admin token. */
export async function requireAdmin(request: FastifyRequest): Promise<void> {
  if (request.user.role !== 'admin') throw new ParleyError('forbidden', 'This route needs an admin token');
}

function time(iso: string | undefined): number | undefined {
  if (iso === undefined) return undefined;
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) throw new ParleyError('invalid_request', `Not an ISO 8601 time: ${iso}`);
  return ms;
}

export const adminRoutes: FastifyPluginAsync<AdminRoutesDeps> = async (app, { store, reads }) => {
  app.addHook('onRequest', app.authenticate);
  app.addHook('onRequest', requireAdmin);

  app.get<{ Querystring: FeedQuery }>(
    '/v1/admin/feed',
    {
      schema: {
        summary: 'Every event from a global position, as NDJSON or Server-Sent Events (Accept: text/event-stream)',
        querystring: Queries.feed,
      },
    },
    (request, reply) => streamFeed(store, request, reply),
  );

  app.get<{ Querystring: Static<typeof Queries.analytics> }>(
    '/v1/admin/analytics',
    {
      schema: {
        summary: 'Messages per conversation per hour, active users per day, median time to first reply, reactions by emoji',
        querystring: Queries.analytics,
        response: { 200: Responses.analytics, ...errorResponses },
      },
    },
    async (request) => {
      await reads.consistentReads();
      const { from, to, conversation } = request.query;
      return analyticsReport(reads.readModels, { from: time(from), to: time(to), conversationId: conversation });
    },
  );
};
