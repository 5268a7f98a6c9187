/**
 * The node's own routes: liveness (`/health`, no token), Prometheus metrics with each
 * projection's lag refreshed at scrape time, and the OpenAPI document (both need a token).
 */
import type { FastifyPluginAsync } from 'fastify';
import { Responses } from '../../../protocol/schema/index.js';
import type { ReadModelRunner } from '../../../projections/index.js';
import type { EventStore } from '../../store/index.js';
import type { Metrics } from '../metrics.js';

export interface NodeRoutesDeps {
  readonly nodeId: string;
  readonly store: Pick<EventStore, 'kind' | 'headPosition'>;
  readonly runner: Pick<ReadModelRunner, 'projectionNames' | 'checkpointOf'>;
  readonly metrics: Pick<Metrics, 'registry' | 'projectionLag' | 'projectionPosition'>;
}

export const nodeRoutes: FastifyPluginAsync<NodeRoutesDeps> = async (app, { nodeId, store, runner, metrics }) => {
  app.get('/health', { schema: { summary: 'Liveness: the node id and its store kind', response: { 200: Responses.health } } }, async () => ({
    status: 'ok',
    nodeId,
    store: store.kind,
  }));

  app.get('/metrics', { schema: { hide: true } as object, onRequest: app.authenticate }, async (_request, reply) => {
    const head = await store.headPosition();
    for (const name of runner.projectionNames) {
      const at = runner.checkpointOf(name);
      metrics.projectionLag.set({ projection: name }, Math.max(0, head - at));
      metrics.projectionPosition.set({ projection: name }, at);
    }
    return reply.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });

  // The document covers every route of the app: the swagger decorator is the root's.
  app.get('/docs/json', { schema: { hide: true } as object, onRequest: app.authenticate }, async () => app.swagger());
};
