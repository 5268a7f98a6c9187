/**
 * How every ops command finds "the log" from its flags, so each works on a cluster as on
 * one node: with NATS URLs (`--nats`, else NATS_URL; the stream from PARLEY_STREAM, as the
 * node reads them) the cluster's JetStream stream; with PARLEY_STORE=eventstoredb the
 * streams in EventStoreDB (EVENTSTORE_URL); else the embedded SQLite store of the data
 * directory. Commands then use only the EventStore port, whichever it is, and read the
 * whole log by cursor (log-scan.ts), so a partitioned log (PARLEY_PARTITIONS > 1) is
 * opened as the node opens it and read like any other.
 */
import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { isClusterLog, openLogStore, type ClusterLog } from '../cluster/index.js';
import { withUpcasting } from '../domain/index.js';
import { loadConfig } from '../node/config/index.js';
import { SqliteEventStore, type EventStore } from '../store/index.js';
import { EventStoreDbEventStore, redactUrl } from '../store/eventstoredb/index.js';
import { openExistingStore, type DataDirFiles } from './data-dir.js';

export interface OpenedLog {
  /** The log as stored (no upcasting): what export copies and verify checks. */
  store: EventStore;
  /** Where it is, for messages: a file, or a JetStream stream and its servers. */
  where: string;
  /** Set when the log is a cluster's JetStream stream(s) (for checks only JetStream needs). */
  jetstream: ClusterLog | undefined;
}

export interface OpenLogOptions {
  /** Create an empty embedded store if the data directory has none (import). */
  create?: boolean;
}

export async function openLog(files: DataDirFiles, nats: string | undefined, options: OpenLogOptions = {}, env = process.env): Promise<OpenedLog> {
  const urls = nats ?? env.NATS_URL;
  if (env.PARLEY_STORE === 'eventstoredb' && !nats) return openEventStoreDbLog(env);
  if (!urls) {
    if (!options.create) return { store: openExistingStore(files), where: files.events, jetstream: undefined };
    mkdirSync(files.dir, { recursive: true });
    return { store: new SqliteEventStore({ file: files.events }), where: files.events, jetstream: undefined };
  }
  // Only the log settings matter here. A fixed secret and id keep the CLI from creating
  // files, and the system's temporary directory (which exists) stands in for the data
  // directory, which loadConfig would create and the JetStream log does not use.
  const config = loadConfig({ ...env, NATS_URL: urls }, { dataDir: tmpdir(), jwtSecret: 'ops-cli-needs-no-secret-000000', nodeId: 'cli' });
  const store = await openLogStore(config);
  return {
    store,
    where: `JetStream stream ${config.streamName}${config.partitions > 1 ? ` in ${config.partitions} partitions` : ''} at ${config.natsUrls.join(',')}`,
    jetstream: isClusterLog(store) ? store : undefined,
  };
}

/** The log in EventStoreDB, with the settings the node reads (EVENTSTORE_URL, PARLEY_EVENTSTORE_NAMESPACE). */
async function openEventStoreDbLog(env: NodeJS.ProcessEnv): Promise<OpenedLog> {
  const config = loadConfig(env, { dataDir: tmpdir(), jwtSecret: 'ops-cli-needs-no-secret-000000', nodeId: 'cli' });
  const { url, namespace } = config.eventStoreDb!;
  const store = await EventStoreDbEventStore.connect({ url, namespace });
  return { store, where: `EventStoreDB namespace ${namespace} at ${redactUrl(url)}`, jetstream: undefined };
}

/** The log with events in their current shape (upcast), as the node and its read models see them. */
export async function openLogForReading(files: DataDirFiles, nats: string | undefined, env = process.env): Promise<EventStore> {
  return withUpcasting((await openLog(files, nats, {}, env)).store);
}
