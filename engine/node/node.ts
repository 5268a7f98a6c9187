/**
 * A Parley node: the composition root. It opens the event log (open-store.ts), brings
 * the read models up to date (start-read-models.ts), builds the HTTP server
 * (http-server.ts) and its routes (routes/), the WebSocket gateway with presence and
 * live delivery, the extensions (Yjs sync) and cluster membership, then listens
 * (listen.ts) and records `NodeStarted` (node-started.ts); shutdown.ts closes it all.
 * Each of those files does one job; this one only hands each part the few others it uses.
 *
 * Start-up order matters: read models catch up with the log before the node accepts
 * traffic, and the node records `NodeStarted` so presence forgets sessions a crashed
 * run of this node left behind — only once it listens (a node that cannot bind its port
 * never started), and requests wait for it, so no session opened meanwhile is forgotten.
 *
 * Every start-up failure is a StartupError (or ConfigError) whose message names what
 * failed, the setting that controls it and what to do: the CLI prints that one line.
 */
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { ExternalProjection, Projection, ReadModelRunner } from '../../projections/index.js';
import { syncExtension } from '../../sync/index.js';
import type { ClusterMembership } from '../cluster/index.js';
import { headCursorOf, LogCursor, type EventStore } from '../store/index.js';
import { CommandHandler } from './command-handler.js';
import { bearerOf, createTokenVerifier, type TokenVerifier } from './auth/index.js';
import { loadConfig, refusePlainHttpInProduction, refusePlainNatsInProduction, type NodeConfig } from './config/index.js';
import type { NodeContext, NodeExtension } from './extension.js';
import { FanOut } from './fan-out.js';
import { Gateway } from './gateway.js';
import { createHttpServer } from './http-server.js';
import { listen } from './listen.js';
import { Drain } from './drain.js';
import { createMetrics, type Metrics } from './metrics.js';
import { holdRequestsUntilStarted, recordNodeStarted } from './node-started.js';
import { openStore } from './open-store.js';
import { PresenceRecorder } from './presence-recorder.js';
import { checkReadiness } from './readiness.js';
import { registerRoutes, type ReadAccess } from './routes/index.js';
import { sessionHost, type SessionHostParts } from './session-host.js';
import { abandon, shutDown, type RunningParts } from './shutdown.js';
import { startReadModels } from './start-read-models.js';
import { describeCertificate, loadServerTls, reloadServerTls } from './tls.js';
import { UserLimits } from './user-limits.js';
import { limitRequests } from './request-limits.js';
import { caughtUpWithLog, LogHead } from './log-head.js';
import { Deliverer, webhookSettings } from './webhooks/index.js';
import { attachmentsExtension } from './attachments/index.js';
import { RetentionSweep } from './retention-sweep.js';
import { withRedactedReads } from './redacted-reads.js';
import { messageRedacted } from '../../projections/index.js';

export interface StartNodeOptions extends Partial<NodeConfig> {
  /** Another EventStore adapter (JetStream, EventStoreDB); default: SQLite in dataDir. */
  store?: EventStore;
  /** Extra projections to run next to the built-in ones (SQLite or external). */
  projections?: Array<Projection | ExternalProjection>;
  /** Layers that add routes and read models; default: Yjs sync. */
  extensions?: NodeExtension[];
  /** Environment to read configuration from (default process.env). */
  env?: Record<string, string | undefined>;
  /** The built web app served at `/` (default: dist/web-app/, see routes/web-routes.ts). */
  webDir?: string;
}

export interface ParleyNode {
  readonly config: NodeConfig;
  readonly app: FastifyInstance;
  readonly store: EventStore;
  readonly runner: ReadModelRunner;
  /** http://host:port of the running node. */
  readonly url: string;
  readonly port: number;
  /** Set when the store is JetStream: heartbeats, peers alive. */
  readonly cluster: ClusterMembership | undefined;
  /**
   * Re-reads PARLEY_TLS_CERT / PARLEY_TLS_KEY for new connections (SIGHUP in `parley serve`);
   * open ones are kept. Never throws: false (and an error in the log) keeps the certificate
   * in use; false too when the node serves plain HTTP.
   */
  reloadTls(): boolean;
  close(): Promise<void>;
}

export async function startNode(options: StartNodeOptions = {}): Promise<ParleyNode> {
  const { store: givenStore, projections = [], extensions: givenExtensions = [syncExtension()], env, webDir, ...overrides } = options;
  // Attachments are part of every node; the given extensions come first, as before.
  const extensions = [...givenExtensions, attachmentsExtension()];
  const config = loadConfig(env ?? process.env, overrides);
  refusePlainHttpInProduction(env ?? process.env, config);
  refusePlainNatsInProduction(env ?? process.env, config);
  const webhooks = webhookSettings(env ?? process.env, config.jwtSecret);
  // Before anything is opened: a certificate the node cannot use stops the start here.
  const https = config.tls ? loadServerTls(config.tls) : undefined;
  const metrics = createMetrics(config.nodeId);

  // The log, then the read models (the cluster's feed-lag metric asks how far they are).
  let runnerPosition = () => LogCursor.start(1);
  const opened = await openStore(config, metrics, givenStore, () => runnerPosition());
  const { store, jetstream, cluster } = opened;
  const readModels = await startReadModels(config, store, [...extensions.flatMap((x) => x.projections ?? []), ...projections], metrics).catch(
    async (err: unknown) => {
      await store.close().catch(() => undefined);
      throw err;
    },
  );
  const { runner } = readModels;
  runnerPosition = () => runner.cursor;

  // Commands and live delivery.
  const commands = new CommandHandler(store, metrics, { maxTextBytes: config.maxTextBytes });
  const reads: ReadAccess = {
    readModels: runner.db,
    consistentReads: () => runner.waitForCursor(commands.written),
    caughtUpWithLog: caughtUpWithLog(new LogHead(() => headCursorOf(store)), runner),
  };
  // What clients and consumers read of the log: redacted where the store keeps the original (redacted-reads.ts).
  const served = withRedactedReads(store, (c, m) => messageRedacted(runner.db, c, m));
  const fanOut = new FanOut(runner.db, metrics, (position) => runner.waitFor(position));
  const stopFanOut = store.subscribe((events) => fanOut.deliver(events));

  // The HTTP server; from here on the parts report to its log.
  // Key-fetch failures are reported to the app's log, which exists once the verifier does.
  const tokens = createTokenVerifier(config.auth, config.jwtSecret, { log: { warn: (obj, msg) => app.log.warn(obj, msg) } });
  const app = await createHttpServer(config, tokens, https);
  readModels.reportErrorsTo(app.log);
  fanOut.reportErrorsTo(app.log);
  const gate = holdRequestsUntilStarted(app);
  const drain = new Drain();
  drain.install(app);
  const ready = () =>
    checkReadiness({ nodeId: config.nodeId, store, runner, maxLag: config.readyMaxLag, draining: () => drain.draining });
  opened.reportErrorsTo(app.log, () => gate.started);

  const users = new UserLimits(config);
  limitRequests(app, users);
  const { gateway, presence } = openWebSockets(config, tokens, {
    commands,
    store: served,
    fanOut,
    readModels: runner.db,
    runner,
    consistentReads: reads.consistentReads,
    caughtUpWithLog: reads.caughtUpWithLog,
    users,
    metrics,
    log: app.log,
  });

  const deliverer = new Deliverer({ store: served, readModels: runner.db, waitFor: (p) => runner.waitFor(p), nodeId: config.nodeId, settings: webhooks, log: app.log });
  const retention = new RetentionSweep({ commands, readModels: runner.db, nodeId: config.nodeId, everySeconds: config.retentionSweepSeconds, log: app.log });
  const parts: RunningParts = { drain, drainSeconds: config.drainSeconds, gateway, presence, app, extensions, cluster, stopFanOut, runner, store, deliverer, retention };
  let address: { url: string; port: number };
  try {
    await registerRoutes(app, {
      nodeId: config.nodeId,
      store: served,
      runner,
      metrics,
      commands,
      reads,
      gateway,
      ready,
      metricsToken: config.metricsToken,
      webDir,
      webhooks,
      ...(config.devLogin && { devLogin: { jwtSecret: config.jwtSecret } }),
    });
    const context: NodeContext = {
      app,
      config,
      store,
      readModels: runner.db,
      runner,
      commands,
      metrics,
      authenticateUpgrade: async (request) => {
        const token = bearerOf(request, true);
        return token === undefined ? null : tokens.verify(token);
      },
      consistentReads: reads.consistentReads,
      connectionLimiter: (userId) => users.connectionLimiter(userId),
    };
    for (const x of extensions) await x.register(context);
    cluster?.join({ store, readModels: runner.db, onNodeChanged: (id) => fanOut.nodePresenceChanged(id), log: app.log });
    if (config.jwtSecretSource === 'generated' && config.auth.keySource.kind === 'secret') {
      app.log.warn({ file: join(config.dataDir, 'jwt-secret') }, 'PARLEY_JWT_SECRET is not set: generated a development secret');
    }
    if (config.devLogin) app.log.warn('development sign-in is on (POST /v1/dev/token gives anyone any name): not for production');
    address = await listen(app, config);
    await recordNodeStarted(store, config.nodeId, jetstream ? 'NATS_URL / --nats' : config.eventStoreDb ? 'EVENTSTORE_URL' : 'DATA_DIR / --data-dir');
    deliverer.start();
    retention.start();
  } catch (err) {
    // Started half-way (an extension, the port, the first append): let go of what holds the process open.
    await abandon(parts);
    throw err;
  }
  gate.open();
  const { url, port } = address;
  app.log.info(
    {
      url,
      nodeId: config.nodeId,
      store: store.kind,
      dataDir: config.dataDir,
      ...(https && { certificate: describeCertificate(https) }),
      tokens: config.auth.keySource.kind === 'jwks' ? config.auth.keySource.url : config.auth.keySource.kind === 'pem' ? config.auth.keySource.file : 'PARLEY_JWT_SECRET',
      ...(jetstream && { stream: config.streamName, replicas: config.replicas, natsServer: jetstream.serverVersion, natsFeatures: jetstream.features }),
    },
    'parley node listening',
  );

  let closing: Promise<void> | undefined;
  const reloadTls = () => {
    if (config.tls) return reloadServerTls(app.server as unknown as Parameters<typeof reloadServerTls>[0], config.tls, app.log);
    app.log.info('TLS reload asked for, but the node serves plain HTTP (PARLEY_TLS_CERT / PARLEY_TLS_KEY not set)');
    return false;
  };
  return { config, app, store, runner, url, port, cluster, reloadTls, close: () => (closing ??= shutDown(parts)) };
}

/**
 * The WebSocket side: the gateway tells presence of a user's first and last socket on
 * this node, and hands every session the one host made of the node's parts.
 */
function openWebSockets(
  config: NodeConfig,
  tokens: TokenVerifier,
  parts: Omit<SessionHostParts, 'config' | 'store' | 'users' | 'metrics'> & { store: EventStore; users: UserLimits; metrics: Metrics },
): { gateway: Gateway; presence: PresenceRecorder } {
  const presence = new PresenceRecorder(parts.store, config.nodeId, parts.log);
  const gateway = new Gateway({
    settings: config,
    tokens,
    userRate: parts.users,
    presence,
    sessions: sessionHost({ config, ...parts }),
    metrics: parts.metrics,
    log: parts.log,
  });
  return { gateway, presence };
}
