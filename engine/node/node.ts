/**
 * A Parley node: the event store, the read models and their runner, command handling,
 * fan-out, and the HTTP + WebSocket server, wired together.
 *
 * The store is SQLite in the data directory, or — given NATS URLs (NATS_URL, `--nats`) —
 * a JetStream stream shared with the other nodes of a cluster; the node then also sends
 * presence heartbeats and exports bus metrics (engine/cluster).
 *
 * Start-up order matters: read models catch up with the log before the node accepts
 * traffic, and the node records `NodeStarted` so presence forgets sessions a crashed
 * run of this node left behind.
 */
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { ProjectionRunner, builtInProjections, type ExternalProjection, type Projection } from '../../projections/index.js';
import { syncExtension } from '../../sync/index.js';
import { toNewEvents } from '../domain/index.js';
import { clusterMembership, connectClusterStore, type ClusterMembership } from '../cluster/index.js';
import { SqliteEventStore, nodeStream, withReadTimings, withUpcasting, type EventStore } from '../store/index.js';
import { JetStreamEventStore } from '../store/jetstream/index.js';
import { CommandHandler } from './command-handler.js';
import { loadConfig, type NodeConfig } from './config.js';
import { FanOut } from './fan-out.js';
import { Gateway } from './gateway.js';
import { createHttpServer, registerNodeRoutes } from './http-server.js';
import { createMetrics } from './metrics.js';
import type { NodeContext, NodeExtension } from './extension.js';
import { verifyToken } from './token.js';

export interface StartNodeOptions extends Partial<NodeConfig> {
  /** Another EventStore adapter (JetStream, EventStoreDB); default: SQLite in dataDir. */
  store?: EventStore;
  /** Extra projections to run next to the built-in ones (SQLite or external). */
  projections?: Array<Projection | ExternalProjection>;
  /** Layers that add routes and read models; default: Yjs sync. */
  extensions?: NodeExtension[];
  /** Environment to read configuration from (default process.env). */
  env?: Record<string, string | undefined>;
}

export interface ParleyNode {
  readonly config: NodeConfig;
  readonly app: FastifyInstance;
  readonly store: EventStore;
  readonly runner: ProjectionRunner;
  /** http://host:port of the running node. */
  readonly url: string;
  readonly port: number;
  /** Set when the store is JetStream: heartbeats, peers alive. */
  readonly cluster: ClusterMembership | undefined;
  close(): Promise<void>;
}

export async function startNode(options: StartNodeOptions = {}): Promise<ParleyNode> {
  const { store: givenStore, projections = [], extensions = [syncExtension()], env, ...overrides } = options;
  const config = loadConfig(env ?? process.env, overrides);
  const metrics = createMetrics(config.nodeId);
  // The store's background errors (feed hiccups, index repair) go to the log once it exists.
  let reportStoreError: (err: unknown) => void = () => undefined;
  const jetstream =
    givenStore instanceof JetStreamEventStore
      ? givenStore
      : !givenStore && config.natsUrls.length > 0
        ? await connectClusterStore(config, (err) => reportStoreError(err))
        : undefined;
  let runner: ProjectionRunner | undefined;
  const cluster = jetstream && clusterMembership(config, jetstream, metrics.registry, () => runner?.position ?? 0);
  // Everything in the node reads events in their current shape (old ones are upcast),
  // and every read of the log is timed.
  const store = withUpcasting(
    withReadTimings(
      cluster
        ? cluster.busMetrics.timedAppends(jetstream!)
        : (givenStore ??
            new SqliteEventStore({
              file: join(config.dataDir, 'events.sqlite'),
              onBatch: (appends) => metrics.batchSize.observe(appends),
            })),
      (read, seconds) => metrics.storeReadSeconds.observe({ read }, seconds),
    ),
  );
  const readModels = ProjectionRunner.openDatabase(join(config.dataDir, 'readmodels.sqlite'));
  runner = new ProjectionRunner(store, readModels, [
    ...builtInProjections(),
    ...extensions.flatMap((x) => x.projections ?? []),
    ...projections,
  ]);
  await runner.start();

  const commands = new CommandHandler(store, metrics, { maxTextBytes: config.maxTextBytes });
  const fanOut = new FanOut(readModels, metrics, (position) => runner!.waitFor(position));
  const stopFanOut = store.subscribe((events) => fanOut.deliver(events));

  const app = await createHttpServer(config);
  reportStoreError = (err) => app.log.warn({ err }, 'event store (NATS JetStream)');
  const gateway = new Gateway(config, store, commands, fanOut, readModels, runner, metrics, app.log);
  registerNodeRoutes(app, gateway);
  const context: NodeContext = {
    app,
    config,
    store,
    readModels,
    runner,
    commands,
    metrics,
    verifyToken: (token) => verifyToken(config.jwtSecret, token),
    consistentReads: () => gateway.consistentReads(),
    connectionLimiter: (userId) => gateway.connectionLimiter(userId),
  };
  for (const x of extensions) await x.register(context);
  cluster?.join({ store, readModels, onNodeChanged: (id) => fanOut.nodePresenceChanged(id), log: app.log });
  if (config.jwtSecretSource === 'generated') {
    app.log.warn({ file: join(config.dataDir, 'jwt-secret') }, 'PARLEY_JWT_SECRET is not set: generated a development secret');
  }

  await store.append(
    nodeStream(config.nodeId),
    toNewEvents([{ type: 'NodeStarted', data: { nodeId: config.nodeId } }], { actor: 'system', commandId: `start-${Date.now()}` }),
    { expectedVersion: 'any' },
  );
  await app.listen({ port: config.port, host: config.host });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const host = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;
  const url = `http://${host}:${port}`;
  app.log.info(
    {
      url,
      nodeId: config.nodeId,
      store: store.kind,
      dataDir: config.dataDir,
      ...(jetstream && { stream: config.streamName, replicas: config.replicas, natsServer: jetstream.serverVersion, natsFeatures: jetstream.features }),
    },
    'parley node listening',
  );

  let closing: Promise<void> | undefined;
  return {
    config,
    app,
    store,
    runner: runner!,
    url,
    port,
    cluster,
    close: () =>
      (closing ??= (async () => {
        // Sockets first: their users' offline events go in before the store closes.
        await gateway.shutdown();
        await app.close();
        for (const x of extensions) await x.close?.();
        await cluster?.leave();
        stopFanOut();
        await runner!.stop();
        await store.close();
        readModels.close();
      })()),
  };
}
