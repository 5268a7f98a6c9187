/**
 * How every ops command finds "the log" from its flags, so each works on a cluster as on
 * one node: with NATS URLs (`--nats`, else NATS_URL; the stream from PARLEY_STREAM, as the
 * node reads them) the cluster's JetStream stream; with PARLEY_STORE=eventstoredb the
 * streams in EventStoreDB (EVENTSTORE_URL); else the embedded SQLite store of the data
 * directory. Commands then use only the EventStore port, whichever it is.
 */
import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { openLogStore } from '../cluster/index.js';
import { withUpcasting } from '../domain/index.js';
import { loadConfig } from '../node/config/index.js';
import { SqliteEventStore, type EventStore } from '../store/index.js';
import { JetStreamEventStore } from '../store/jetstream/index.js';
import { EventStoreDbEventStore, redactUrl } from '../store/eventstoredb/index.js';
import { openExistingStore, type DataDirFiles } from './data-dir.js';

export interface OpenedLog {
  /** The log as stored (no upcasting): what export copies and verify checks. */
  store: EventStore;
  /** Where it is, for messages: a file, or a JetStream stream and its servers. */
  where: string;
  /** Set when the log is a cluster's JetStream stream (for checks only JetStream needs). */
  jetstream: JetStreamEventStore | undefined;
}

/**
 * The ops commands (export, import, stats, verify, replay, skip, rebuild) still read the
 * log by single positions; a partitioned log (PARLEY_PARTITIONS > 1) has none, so they
 * refuse it by name rather than fail half-way (the node and `parley tail` run on it).
 */
export class PartitionedLogUnsupportedError extends Error {
  override readonly name = 'PartitionedLogUnsupportedError';
  readonly code = 'partitioned_log_unsupported';
}

/** Throws PartitionedLogUnsupportedError for a configuration with a partitioned log. */
export function refusePartitionedLog(config: { partitions: number }, command = 'this command'): void {
  if (config.partitions <= 1) return;
  throw new PartitionedLogUnsupportedError(`PARLEY_PARTITIONS=${config.partitions}: ${command} runs on an unpartitioned log (1) only so far`);
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
  refusePartitionedLog(config);
  const store = await openLogStore(config);
  return {
    store,
    where: `JetStream stream ${config.streamName} at ${config.natsUrls.join(',')}`,
    jetstream: store instanceof JetStreamEventStore ? store : undefined,
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
