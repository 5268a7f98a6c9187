/**
 * The node's own routes: liveness (`/health`) and readiness (`/ready`, see readiness.ts),
 * neither with a token; Prometheus metrics behind their own scrape token
 * (PARLEY_METRICS_TOKEN), with each projection's lag refreshed at scrape time; and the
 * OpenAPI document.
 *
 * `/metrics` is not for users: a user's token is refused like any wrong one, and with no
 * scrape token configured the route answers 404 (metrics off) rather than fall back to
 * something weaker.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyPluginAsync } from 'fastify';
import { ParleyError } from '../../../protocol/index.js';
import { Responses } from '../../../protocol/schema/index.js';
import type { ReadModelRunner } from '../../../projections/index.js';
import { headCursorOf, type EventStore } from '../../store/index.js';
import type { Metrics } from '../metrics.js';
import type { ReadyReport } from '../readiness.js';

export interface NodeRoutesDeps {
  readonly nodeId: string;
  readonly store: Pick<EventStore, 'kind' | 'headPosition'>;
  readonly runner: Pick<ReadModelRunner, 'projectionNames' | 'cursorOf'>;
  readonly metrics: Pick<Metrics, 'registry' | 'projectionLag' | 'projectionPosition'>;
  /** The readiness checks, run per request. */
  readonly ready: () => Promise<ReadyReport>;
  /** The scrape token `/metrics` takes as `Authorization: Bearer …`; undefined: metrics off. */
  readonly metricsToken: string | undefined;
}

export const nodeRoutes: FastifyPluginAsync<NodeRoutesDeps> = async (app, { nodeId, store, runner, metrics, ready, metricsToken }) => {
  app.get('/health', { schema: { summary: 'Liveness: the node id and its store kind', response: { 200: Responses.health } } }, async () => ({
    status: 'ok',
    nodeId,
    store: store.kind,
  }));

  app.get(
    '/ready',
    {
      schema: {
        summary: 'Readiness: 200 when the store answers, read models are caught up and the node is not draining; 503 names the failed checks',
        security: [],
        response: { 200: Responses.ready, 503: Responses.ready },
      },
    },
    async (_request, reply) => {
      const report = await ready();
      return reply.code(report.status === 'ready' ? 200 : 503).header('cache-control', 'no-store').send(report);
    },
  );

  const allowed = metricsToken === undefined ? null : scrapeTokenCheck(metricsToken);
  app.get('/metrics', { schema: { hide: true } as object }, async (request, reply) => {
    if (!allowed) throw new ParleyError('not_found', 'Metrics are off on this node: set PARLEY_METRICS_TOKEN to scrape them');
    const header = request.headers.authorization;
    if (!header?.startsWith('Bearer ') || !allowed(header.slice(7))) throw new ParleyError('unauthorized', 'GET /metrics takes the scrape token (PARLEY_METRICS_TOKEN)');
    const head = await headCursorOf(store);
    for (const name of runner.projectionNames) {
      const at = runner.cursorOf(name);
      metrics.projectionLag.set({ projection: name }, at.behind(head));
      // A checkpoint over several partitions is no one number: the gauge is for an unpartitioned log.
      if (at.partitions === 1) metrics.projectionPosition.set({ projection: name }, at.single);
    }
    return reply.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });

  // The document covers every route of the app: the swagger decorator is the root's.
  app.get('/docs/json', { schema: { hide: true } as object, onRequest: app.authenticate }, async () => app.swagger());
};

/**
 * Compares in constant time: both sides are hashed to the same length first, so neither
 * the content nor the length of the token leaks through how long a refusal takes.
 */
function scrapeTokenCheck(token: string): (given: string) => boolean {
  const expected = createHash('sha256').update(token).digest();
  return (given) => timingSafeEqual(createHash('sha256').update(given).digest(), expected);
}
