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
 * run of this node left behind — only once it listens (a node that cannot bind its port
 * never started), and requests wait for it, so no session opened meanwhile is forgotten.
 *
 * Every start-up failure is a StartupError (or ConfigError) whose message names what
 * failed, the setting that controls it and what to do: the CLI prints that one line.
 */
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { ReadModels, builtInProjections, type ExternalProjection, type Projection, type ReadModelRunner } from '../../projections/index.js';
import { syncExtension } from '../../sync/index.js';
import { toNewEvents, withUpcasting } from '../domain/index.js';
import { clusterMembership, connectClusterStore, type ClusterMembership } from '../cluster/index.js';
import { SqliteEventStore, nodeStream, withReadTimings, type EventStore } from '../store/index.js';
import { JetStreamEventStore } from '../store/jetstream/index.js';
import { CommandHandler } from './command-handler.js';
import { StartupError, dataDirError, loadConfig, type NodeConfig } from './config/index.js';
import { FanOut } from './fan-out.js';
import { Gateway } from './gateway.js';
import { createHttpServer, registerNodeRoutes } from './http-server.js';
import { createMetrics } from './metrics.js';
import type { NodeContext, NodeExtension } from './extension.js';
import { verifyToken } from './config/index.js';

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
  readonly runner: ReadModelRunner;
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
  // The store's background errors (feed hiccups, index repair, a full disk) go to the log once it exists.
  let reportStoreError: (err: unknown) => void = () => undefined;
  const jetstream =
    givenStore instanceof JetStreamEventStore
      ? givenStore
      : !givenStore && config.natsUrls.length > 0
        ? await connectClusterStore(config, (err) => reportStoreError(err)).catch((err: unknown) => {
            throw natsStartupError(config.natsUrls, err);
          })
        : undefined;
  let runner: ReadModels | undefined;
  const cluster = jetstream && clusterMembership(config, jetstream, metrics.registry, () => runner?.position ?? 0);
  // Everything in the node reads events in their current shape (old ones are upcast),
  // and every read of the log is timed.
  const store = withUpcasting(
    withReadTimings(
      cluster
        ? cluster.busMetrics.timedAppends(jetstream!)
        : (givenStore ??
            openEmbeddedStore(config.dataDir, metrics, (err) => {
              metrics.storeWriteFailures.inc();
              reportStoreError(err);
            })),
      (read, seconds) => metrics.storeReadSeconds.observe({ read }, seconds),
    ),
  );
  // A projection that throws stops alone and retries (projections/runner.ts): counted, shown, logged.
  let logProjectionError = (projection: string, err: unknown, failure: object) => console.error(`projection ${projection} stopped; retrying`, failure, err);
  // Built-in read models are applied on their own thread (projections/read-models.ts); `readModels` is this thread's connection, for reads.
  runner = openInDataDir(
    config.dataDir,
    'readmodels.sqlite',
    (file) =>
      new ReadModels(store, file, [...builtInProjections(), ...extensions.flatMap((x) => x.projections ?? []), ...projections], {
        thread: config.readModelThread,
        checkpointBytes: config.readModelWalBytes,
        nice: config.readModelNice,
        onError: (projection, err, failure) => {
          metrics.projectionErrors.inc({ projection });
          metrics.projectionFailed.set({ projection }, 1);
          logProjectionError(projection, err, failure);
        },
        onRecovered: (projection) => metrics.projectionFailed.set({ projection }, 0),
      }),
  );
  const readModels = runner.db;
  for (const projection of runner.projectionNames) metrics.projectionFailed.set({ projection }, 0);
  try {
    await runner.start();
  } catch (err) {
    await runner.stop().catch(() => undefined);
    runner.close();
    await store.close().catch(() => undefined);
    throw new StartupError(`${(err as Error).message}; to apply read models on the main thread instead, set PARLEY_READ_MODEL_THREAD=off`, { cause: err });
  }

  const commands = new CommandHandler(store, metrics, { maxTextBytes: config.maxTextBytes });
  const fanOut = new FanOut(readModels, metrics, (position) => runner!.waitFor(position));
  const stopFanOut = store.subscribe((events) => fanOut.deliver(events));

  const app = await createHttpServer(config);
  logProjectionError = (projection, err, failure) =>
    app.log.error({ err, projection, failure }, 'projection stopped on an event; it retries (skip a poison event: parley skip --help)');
  // Requests that arrive between listening and `NodeStarted` wait for it (see the header).
  let started = false;
  // Before that, a failing embedded store is the start-up error itself, reported once by the caller.
  reportStoreError = (err) =>
    jetstream
      ? // A duplicate seq in the log (duplicate-seqs.ts) is a broken invariant, not a hiccup.
        app.log[(err as { code?: unknown })?.code === 'duplicate_seq' ? 'error' : 'warn']({ err }, 'event store (NATS JetStream)')
      : started && app.log.error({ err }, 'event store (SQLite): write failed');
  let recorded: () => void = () => undefined;
  const startedRecorded = new Promise<void>((r) => (recorded = r));
  app.addHook('onRequest', async () => {
    if (!started) await startedRecorded;
  });
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

  const abandon = async () => {
    // Started half-way: let go of what holds the process open, the failure is reported by the caller.
    await app.close().catch(() => undefined);
    for (const x of extensions) await Promise.resolve(x.close?.()).catch(() => undefined);
    await cluster?.leave().catch(() => undefined);
    stopFanOut();
    await runner!.stop().catch(() => undefined);
    await store.close().catch(() => undefined);
    runner!.close();
  };
  try {
    await app.listen({ port: config.port, host: config.host }).catch((err: unknown) => {
      throw listenStartupError(config, err);
    });
    await store
      .append(
        nodeStream(config.nodeId),
        toNewEvents([{ type: 'NodeStarted', data: { nodeId: config.nodeId } }], { actor: 'system', commandId: `start-${Date.now()}` }),
        { expectedVersion: 'any' },
      )
      .catch((err: unknown) => {
        const where = jetstream ? 'NATS_URL / --nats' : 'DATA_DIR / --data-dir';
        throw new StartupError(`cannot record NodeStarted in the event store: ${(err as Error).message}; check ${where}`, { cause: err });
      });
  } catch (err) {
    await abandon();
    throw err;
  }
  started = true;
  recorded();
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
        runner!.close();
      })()),
  };
}

/** The embedded store in the data directory, with its group commits and write failures observed. */
function openEmbeddedStore(dataDir: string, metrics: ReturnType<typeof createMetrics>, onWriteFailure: (err: Error) => void): SqliteEventStore {
  return openInDataDir(
    dataDir,
    'events.sqlite',
    (file) => new SqliteEventStore({ file, onBatch: (appends) => metrics.batchSize.observe(appends), onWriteFailure }),
  );
}

/** Opens a SQLite file of the data directory; a failure names the file and DATA_DIR (SQLite's own says neither). */
function openInDataDir<T>(dataDir: string, name: string, open: (file: string) => T): T {
  const file = join(dataDir, name);
  try {
    return open(file);
  } catch (err) {
    throw dataDirError(dataDir, `open ${file}`, err);
  }
}

/** NATS could not be reached (or refused us): say which servers and which setting. */
function natsStartupError(urls: string[], err: unknown): Error {
  if (!(err instanceof Error) || err.name === 'ConfigError' || err.name === 'StartupError') return err as Error;
  const unreachable = err.name === 'ConnectionError' || err.name === 'TimeoutError' || /ECONNREFUSED|ENOTFOUND|EHOSTUNREACH|ETIMEDOUT/.test(String((err.cause as Error | undefined)?.message));
  const what = unreachable ? `cannot reach NATS at ${urls.join(',')}` : `cannot open the log in NATS JetStream at ${urls.join(',')}`;
  const hint = unreachable ? 'is nats-server running there? check NATS_URL / --nats' : 'check NATS_URL / --nats and PARLEY_STREAM';
  return new StartupError(`${what}: ${err.message}; ${hint}`, { cause: err });
}

/** The HTTP port could not be bound: name the address and the setting. */
function listenStartupError(config: NodeConfig, err: unknown): Error {
  const code = (err as { code?: string }).code;
  const address = `${config.host}:${config.port}`;
  const reason =
    code === 'EADDRINUSE'
      ? `port ${config.port} is already in use; choose a free port with PORT / --port, or stop what holds it`
      : code === 'EACCES'
        ? `not allowed to bind port ${config.port}; choose a port above 1023 with PORT / --port`
        : code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND'
          ? `${config.host} is not an address of this machine; check HOST / --host`
          : `${(err as Error).message}; check PORT / --port and HOST / --host`;
  return new StartupError(`cannot listen on ${address}: ${reason}`, { cause: err });
}
