/**
 * Start-up, first job: open the event log. SQLite in the data directory, or — given NATS
 * URLs (NATS_URL, `--nats`) or a JetStream store — a JetStream stream shared with the
 * other nodes of a cluster, with cluster membership (heartbeats, bus metrics), or — given
 * PARLEY_STORE=eventstoredb — streams in EventStoreDB / KurrentDB (EVENTSTORE_URL).
 *
 * Everything in the node reads events in their current shape (old ones are upcast), and
 * every read of the log is timed. The store's background errors (feed hiccups, index
 * repair, a full disk) go to the node's log once it exists (`reportErrorsTo`).
 */
import { join } from 'node:path';
import type { FastifyBaseLogger } from 'fastify';
import { withUpcasting } from '../domain/index.js';
import { clusterMembership, connectClusterStore, isClusterLog, type ClusterLog, type ClusterMembership } from '../cluster/index.js';
import { SqliteEventStore, withReadTimings, type EventStore, type LogCursor, type SqliteStoreOptions } from '../store/index.js';
import { EventStoreDbEventStore } from '../store/eventstoredb/index.js';
import { StartupError, dataDirError, type NodeConfig } from './config/index.js';
import type { Metrics } from './metrics.js';

export interface OpenedStore {
  /** The log as the node uses it: upcast and timed. */
  readonly store: EventStore;
  /** Set when the log is a JetStream stream. */
  readonly jetstream: ClusterLog | undefined;
  /** Set when the store is JetStream: heartbeats, peers alive. */
  readonly cluster: ClusterMembership | undefined;
  /**
   * From now on the store's background errors go to `log`. Until `started()` is true, a
   * failing embedded store is the start-up error itself, reported once by the caller.
   */
  reportErrorsTo(log: FastifyBaseLogger, started: () => boolean): void;
}

/**
 * Opens the given store, the cluster's, or the embedded one. `readModelsPosition` is
 * what cluster heartbeats tell the peers (the read models start after the store).
 */
export async function openStore(config: NodeConfig, metrics: Metrics, givenStore: EventStore | undefined, readModelsPosition: () => LogCursor): Promise<OpenedStore> {
  let reportError: (err: unknown) => void = () => undefined;
  let reportCheckpointFailure: (err: Error) => void = () => undefined;
  const jetstream =
    isClusterLog(givenStore)
      ? givenStore
      : !givenStore && config.natsUrls.length > 0
        ? await connectClusterStore(config, (err) => reportError(err)).catch((err: unknown) => {
            throw natsStartupError(config.natsUrls, err);
          })
        : undefined;
  const cluster = jetstream && clusterMembership(config, jetstream, metrics.registry, readModelsPosition);
  const eventStoreDb = !givenStore && config.eventStoreDb ? await openEventStoreDb(config, (err) => reportError(err)) : undefined;
  const store = withUpcasting(
    withReadTimings(
      cluster
        ? cluster.busMetrics.timedAppends(jetstream!)
        : (givenStore ??
            eventStoreDb ??
            openEmbeddedStore(config, metrics, {
              onWriteFailure: (err) => {
                metrics.storeWriteFailures.inc();
                reportError(err);
              },
              onCheckpointFailure: (err) => reportCheckpointFailure(err),
            })),
      (read, seconds) => metrics.storeReadSeconds.observe({ read }, seconds),
    ),
  );
  return {
    store,
    jetstream,
    cluster,
    reportErrorsTo(log, started) {
      reportCheckpointFailure = (err) => log.warn({ err }, 'event store (SQLite): WAL checkpoint failed, tried again shortly');
      reportError = (err) =>
        jetstream
          ? // A duplicate seq in the log (duplicate-seqs.ts) is a broken invariant, not a hiccup.
            log[(err as { code?: unknown })?.code === 'duplicate_seq' ? 'error' : 'warn']({ err }, 'event store (NATS JetStream)')
          : eventStoreDb
            ? log.warn({ err }, 'event store (EventStoreDB)')
            : started() && log.error({ err }, 'event store (SQLite): write failed');
    },
  };
}

/** The log in EventStoreDB; a failure to reach it is a StartupError naming EVENTSTORE_URL (the adapter's message does). */
async function openEventStoreDb(config: NodeConfig, onError: (err: Error) => void): Promise<EventStoreDbEventStore> {
  const { url, namespace } = config.eventStoreDb!;
  return EventStoreDbEventStore.connect({ url, namespace, onError }).catch((err: unknown) => {
    throw new StartupError((err as Error).message, { cause: err });
  });
}

/** The embedded store in the data directory, with its group commits, write and checkpoint failures observed. */
function openEmbeddedStore(
  config: NodeConfig,
  metrics: Metrics,
  failures: Pick<SqliteStoreOptions, 'onWriteFailure' | 'onCheckpointFailure'>,
): SqliteEventStore {
  return openInDataDir(
    config.dataDir,
    'events.sqlite',
    (file) =>
      new SqliteEventStore({
        file,
        onBatch: (appends) => metrics.batchSize.observe(appends),
        onTransaction: (seconds) => metrics.storeTransactionSeconds.observe(seconds),
        checkpoints: { hardBytes: config.storeWalBytes },
        ...failures,
      }),
  );
}

/** Opens a SQLite file of the data directory; a failure names the file and DATA_DIR (SQLite's own says neither). */
export function openInDataDir<T>(dataDir: string, name: string, open: (file: string) => T): T {
  const file = join(dataDir, name);
  try {
    return open(file);
  } catch (err) {
    throw dataDirError(dataDir, `open ${file}`, err);
  }
}

/** NATS could not be reached, refused our credentials or our TLS: say which servers and which settings. */
function natsStartupError(urls: string[], err: unknown): Error {
  if (!(err instanceof Error) || err.name === 'ConfigError' || err.name === 'StartupError') return err as Error;
  const at = urls.join(',');
  const code = String((err as { code?: unknown }).code ?? '');
  const [what, hint] =
    err.name === 'AuthorizationError' || /authorization violation|authentication/i.test(err.message)
      ? [`NATS at ${at} refused the node's credentials`, 'check PARLEY_NATS_USER / PARLEY_NATS_PASSWORD, PARLEY_NATS_TOKEN, PARLEY_NATS_NKEY or PARLEY_NATS_CREDS']
      : /CERT|SIGNATURE|ISSUER|HOSTNAME|ERR_TLS|ERR_SSL/.test(code) || /certificate|\btls\b|ssl/i.test(err.message)
        ? [`cannot set up TLS with NATS at ${at}`, "check PARLEY_NATS_TLS_CA (the CA that signed the server's certificate) and PARLEY_NATS_TLS_CERT / PARLEY_NATS_TLS_KEY"]
        : err.name === 'ConnectionError' || err.name === 'TimeoutError' || /ECONNREFUSED|ENOTFOUND|EHOSTUNREACH|ETIMEDOUT/.test(String((err.cause as Error | undefined)?.message))
          ? [
              `cannot reach NATS at ${at}`,
              'is nats-server running there? check NATS_URL / --nats (a server that wants a client certificate it did not get also looks like this: PARLEY_NATS_TLS_CERT / PARLEY_NATS_TLS_KEY)',
            ]
          : [`cannot open the log in NATS JetStream at ${at}`, 'check NATS_URL / --nats and PARLEY_STREAM'];
  return new StartupError(`${what}: ${err.message}; ${hint}`, { cause: err });
}
