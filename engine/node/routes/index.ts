/**
 * The node's routes, each group an encapsulated Fastify plugin given only the parts it
 * uses. What every route shares stays on the root app (http-server.ts) and reaches each
 * plugin from there: the nosniff hook, CORS, the error and not-found handlers, the shared
 * `Error` schema, the OpenAPI collector, the WebSocket upgrade handling and the
 * `authenticate` decorator. Hooks a plugin adds (authentication, the admin check) stay
 * within it: a plugin of public routes adds none, so no path list can drift from the routes.
 */
import type { FastifyInstance } from 'fastify';
import type { ReadModelRunner } from '../../../projections/index.js';
import type { EventStore } from '../../store/index.js';
import type { Gateway } from '../gateway.js';
import type { Metrics } from '../metrics.js';
import type { ReadyReport } from '../readiness.js';
import { adminRoutes } from './admin-routes.js';
import { conversationRoutes } from './conversation-routes.js';
import { devRoutes } from './dev-routes.js';
import { historyRoutes } from './history-routes.js';
import { messageRoutes } from './message-routes.js';
import { moderationAdminRoutes, moderationRoutes } from './moderation-routes.js';
import { nodeRoutes } from './node-routes.js';
import { projectionRoutes } from './projection-routes.js';
import { retentionRoutes } from './retention-routes.js';
import { threadRoutes } from './thread-routes.js';
import type { ReadAccess } from './read-access.js';
import type { CommandRunner } from './run-command.js';
import { webRoutes } from './web-routes.js';
import { webhookRoutes } from './webhook-routes.js';
import type { WebhookSettings } from '../webhooks/index.js';
import { websocketRoute } from './websocket-route.js';

export { WEB_PUBLIC_PREFIXES, WEB_PUBLIC_ROUTES } from './web-routes.js';

export type { ReadAccess } from './read-access.js';

/** The node's parts the routes use between them; registerRoutes hands each plugin its own few. */
export interface RoutesDeps {
  readonly nodeId: string;
  readonly store: EventStore;
  readonly runner: ReadModelRunner;
  readonly metrics: Metrics;
  readonly commands: CommandRunner;
  readonly reads: ReadAccess;
  readonly gateway: Pick<Gateway, 'connect'>;
  readonly ready: () => Promise<ReadyReport>;
  readonly metricsToken: string | undefined;
  /** Mint tokens for any name at POST /v1/dev/token (config.devLogin), with this secret. */
  readonly devLogin?: { jwtSecret: string };
  /** Where the built web app is; default: dist/web-app/ (web-routes.ts). */
  readonly webDir?: string;
  /** Webhook settings: the admin webhook routes are registered with them. */
  readonly webhooks?: WebhookSettings;
}

/**
 * Registers every route group, in the order the OpenAPI document lists them. Awaited, so
 * each plugin loads now, with the root's hooks as they are.
 */
export async function registerRoutes(app: FastifyInstance, deps: RoutesDeps): Promise<void> {
  const { nodeId, store, runner, metrics, commands, reads, gateway, ready, metricsToken, devLogin, webDir, webhooks } = deps;
  await app.register(nodeRoutes, { nodeId, store, runner, metrics, ready, metricsToken });
  await app.register(conversationRoutes, { commands, reads });
  await app.register(messageRoutes, { commands });
  await app.register(historyRoutes, { reads });
  await app.register(threadRoutes, { commands, reads });
  await app.register(adminRoutes, { store, reads });
  await app.register(moderationRoutes, { commands, reads });
  await app.register(moderationAdminRoutes, { reads });
  await app.register(retentionRoutes, { commands });
  await app.register(projectionRoutes, { runner, store });
  if (webhooks) await app.register(webhookRoutes, { store, runner, settings: webhooks });
  await app.register(websocketRoute, { gateway });
  if (devLogin) await app.register(devRoutes, devLogin);
  await app.register(webRoutes, webDir ? { dir: webDir } : {});
}
