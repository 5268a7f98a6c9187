/**
 * Admin-only routes over the projections: their state, skipping a poison event, and
 * rebuilding one while the node keeps serving. Everyone else gets 403.
 */
import type { Static } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import { ParleyError } from '../../../protocol/index.js';
import { Params, Requests, Responses } from '../../../protocol/schema/index.js';
import type { ReadModelRunner } from '../../../projections/index.js';
import { headCursorOf, type EventStore, type LogCursor } from '../../store/index.js';
import { requireAdmin } from './admin-routes.js';
import { errorResponses } from './responses.js';

export interface ProjectionRoutesDeps {
  readonly runner: Pick<ReadModelRunner, 'projectionNames' | 'versionOf' | 'cursorOf' | 'statusOf' | 'skip' | 'rebuild'>;
  /** Where the log ends, for each projection's lag. */
  readonly store: Pick<EventStore, 'headPosition'>;
}

const projectionsSummary = 'Each projection: version, checkpoint, lag, state (running, failed, rebuilding), its failure and skipped positions';

export const projectionRoutes: FastifyPluginAsync<ProjectionRoutesDeps> = async (app, { runner, store }) => {
  app.addHook('onRequest', app.authenticate);
  app.addHook('onRequest', requireAdmin);

  app.get('/v1/admin/projections', { schema: { summary: projectionsSummary, response: { 200: Responses.projections, ...errorResponses } } }, async () => {
    const head = await headCursorOf(store);
    return {
      head: tokenOf(head),
      projections: runner.projectionNames.map((name) => ({
        name,
        version: runner.versionOf(name),
        checkpoint: tokenOf(runner.cursorOf(name)),
        lag: runner.cursorOf(name).behind(head),
        ...runner.statusOf(name),
      })),
    };
  });

  app.post<{ Params: Static<typeof Params.projection>; Body: Static<typeof Requests.skip> }>(
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
      const skip = runner.skip(name, request.body.position, request.body.reason ?? `admin ${request.user.sub}`);
      return { ...skip, status: runner.statusOf(name) };
    },
  );

  app.post<{ Params: Static<typeof Params.projection> }>(
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
      if (!runner.projectionNames.includes(name)) throw new ParleyError('invalid_request', `Unknown projection ${name}`);
      const started = performance.now();
      await runner.rebuild([name]);
      return { name, checkpoint: tokenOf(runner.cursorOf(name)), seconds: (performance.now() - started) / 1000 };
    },
  );
};

/** A position on an unpartitioned log (a number, as always), a cursor token on a partitioned one. */
function tokenOf(cursor: LogCursor): number | string {
  return cursor.partitions === 1 ? cursor.single : cursor.encode();
}
