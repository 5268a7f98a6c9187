/**
 * Admin-only routes (tokens with `role: "admin"`): the event feed, analytics, and the
 * projections' state and rebuilds. Everyone else gets 403.
 */
import type { Static } from '@sinclair/typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ParleyError } from '../../protocol/index.js';
import { Params, Queries, Requests, Responses } from '../../protocol/schema/index.js';
import { analyticsReport } from '../../projections/index.js';
import { streamFeed, type FeedQuery } from './event-feed.js';
import type { Gateway } from './gateway.js';
import { errorResponses } from './http-routes.js';

function requireAdmin(request: FastifyRequest): void {
  if (request.user.role !== 'admin') throw new ParleyError('forbidden', 'This route needs an admin token');
}

function time(iso: string | undefined): number | undefined {
  if (iso === undefined) return undefined;
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) throw new ParleyError('invalid_request', `Not an ISO 8601 time: ${iso}`);
  return ms;
}

export function registerAdminRoutes(app: FastifyInstance, gw: Gateway): void {
  app.register(async (admin) => {
    admin.addHook('onRequest', async (request) => requireAdmin(request));

    admin.get<{ Querystring: FeedQuery }>(
      '/v1/admin/feed',
      {
        schema: {
          summary: 'Every event from a global position, as NDJSON or Server-Sent Events (Accept: text/event-stream)',
          querystring: Queries.feed,
        },
      },
      (request, reply) => streamFeed(gw.store, request, reply),
    );

    admin.get<{ Querystring: Static<typeof Queries.analytics> }>(
      '/v1/admin/analytics',
      {
        schema: {
          summary: 'Messages per conversation per hour, active users per day, median time to first reply, reactions by emoji',
          querystring: Queries.analytics,
          response: { 200: Responses.analytics, ...errorResponses },
        },
      },
      async (request) => {
        await gw.consistentReads();
        const { from, to, conversation } = request.query;
        return analyticsReport(gw.readModels, { from: time(from), to: time(to), conversationId: conversation });
      },
    );

    const projectionsSummary = 'Each projection: version, checkpoint, lag, state (running, failed, rebuilding), its failure and skipped positions';
    admin.get('/v1/admin/projections', { schema: { summary: projectionsSummary, response: { 200: Responses.projections, ...errorResponses } } }, async () => {
      const head = await gw.store.headPosition();
      return {
        head,
        projections: gw.runner.projectionNames.map((name) => ({
          name,
          version: gw.runner.versionOf(name),
          checkpoint: gw.runner.checkpointOf(name),
          lag: Math.max(0, head - gw.runner.checkpointOf(name)),
          ...gw.runner.statusOf(name),
        })),
      };
    });

    admin.post<{ Params: Static<typeof Params.projection>; Body: Static<typeof Requests.skip> }>(
      '/v1/admin/projections/:name/skip',
      {
        schema: {
          summary: 'Make a projection pass over the event at a position (a poison event), recorded; a stopped projection resumes',
          params: Params.projection,
          body: Requests.skip,
          response: { 200: Responses.skip, ...errorResponses },
        },
      },
      async (request) => {
        const { name } = request.params;
        const skip = gw.runner.skip(name, request.body.position, request.body.reason ?? `admin ${request.user.sub}`);
        return { ...skip, status: gw.runner.statusOf(name) };
      },
    );

    admin.post<{ Params: Static<typeof Params.projection> }>(
      '/v1/admin/projections/:name/rebuild',
      {
        schema: {
          summary: 'Truncate a projection and replay the log into it, while the node keeps serving',
          params: Params.projection,
          response: { 200: Responses.rebuilt, ...errorResponses },
        },
      },
      async (request) => {
        const { name } = request.params;
        if (!gw.runner.projectionNames.includes(name)) throw new ParleyError('invalid_request', `Unknown projection ${name}`);
        const started = performance.now();
        await gw.runner.rebuild([name]);
        return { name, checkpoint: gw.runner.checkpointOf(name), seconds: (performance.now() - started) / 1000 };
      },
    );
  });
}
