/**
 * A node's part of a cluster: its event store in JetStream, the bus metrics, and the
 * presence heartbeats. `startNode` calls `connectClusterStore` when NATS_URL is set and
 * `joinCluster` once its read models and fan-out exist.
 */
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { JetStreamApiCodes, JetStreamApiError, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import type Database from 'better-sqlite3';
import type { FastifyBaseLogger } from 'fastify';
import type { Registry } from 'prom-client';
import { SqliteEventStore, type EventStore, type LogCursor } from '../store/index.js';
import { JetStreamEventStore, PartitionedJetStreamStore } from '../store/jetstream/index.js';
import { createBusMetrics, type BusMetrics } from './bus-metrics.js';
import { ClusterPresence } from './cluster-presence.js';
import { natsSecurity, type NatsSecurity, type NatsSecuritySettings } from './nats-security.js';

/**
 * The node settings a cluster member needs (a node's whole configuration satisfies it):
 * declared here, not imported from the node, because the node is built on the cluster.
 */
export interface ClusterSettings extends NatsSecuritySettings {
  nodeId: string;
  dataDir: string;
  natsUrls: string[];
  streamName: string;
  /** Stream replicas; null: keep what the stream has (1 for a new one). */
  replicas: number | null;
  /** How many streams the log is split into (1: the one stream, as always). */
  partitions: number;
  natsRetryBudgetMs: number;
  heartbeatSeconds: number;
  presenceExpirySeconds: number;
}

/** The cluster's log: one JetStream stream, or several (a partitioned log, PARLEY_PARTITIONS > 1). */
export type ClusterLog = JetStreamEventStore | PartitionedJetStreamStore;

export function isClusterLog(store: unknown): store is ClusterLog {
  return store instanceof JetStreamEventStore || store instanceof PartitionedJetStreamStore;
}

/** Connects to JetStream with the node's cluster settings (stream, replicas, partitions, retry budget). */
export async function connectClusterStore(config: ClusterSettings, onError: (err: unknown) => void): Promise<ClusterLog> {
  const security = natsSecurity(config);
  const replicas = config.replicas ?? (await replicasOfStream(config, security));
  const options = {
    servers: config.natsUrls,
    security,
    streamName: config.streamName,
    // Subjects follow the stream name, so several Parley clusters can share one NATS.
    subjectPrefix: `parley.log.${config.streamName}`,
    replicas,
    retryBudgetMs: config.natsRetryBudgetMs,
    // A request to a server that just died waits this long before the retry (safe: every
    // append has a Nats-Msg-Id). PubAcks take milliseconds when healthy, so keep it short
    // enough that a failover costs an election plus ~2 s, not 5 s more.
    requestTimeoutMs: Math.min(2000, Math.max(500, config.natsRetryBudgetMs / 5)),
    name: `parley-node-${config.nodeId}`,
    onError,
  };
  // Partition 0 is the one stream of an unpartitioned log, so N = 1 opens exactly what it always did.
  return config.partitions > 1 ? PartitionedJetStreamStore.connect({ ...options, partitions: config.partitions }) : JetStreamEventStore.connect(options);
}

/**
 * The replicas the stream already has (1 when it does not exist yet). The store adapter
 * makes the stream match the replicas it is given, so a node started without
 * PARLEY_REPLICAS must ask rather than assume 1 and scale an R3 log down.
 */
async function replicasOfStream(config: ClusterSettings, security: NatsSecurity): Promise<number> {
  const nc = await connect({ ...security, servers: config.natsUrls, name: `parley-node-${config.nodeId}-probe`, timeout: 5000 });
  try {
    const jsm = await jetstreamManager(nc, { timeout: 5000 });
    return (await jsm.streams.info(config.streamName)).config.num_replicas;
  } catch (err) {
    if (err instanceof JetStreamApiError && err.code === JetStreamApiCodes.StreamNotFound) return 1;
    throw err;
  } finally {
    await nc.close();
  }
}

/** The log of a node's configuration: JetStream when NATS URLs are set, else SQLite in DATA_DIR (for CLI tools such as rebuild). */
export async function openLogStore(config: ClusterSettings): Promise<EventStore> {
  if (config.natsUrls.length === 0) return new SqliteEventStore({ file: join(config.dataDir, 'events.sqlite') });
  return connectClusterStore(config, () => undefined);
}

/** The subject every node of the cluster (one stream = one cluster) sends heartbeats on. */
export const heartbeatSubject = (streamName: string): string => `parley.cluster.${streamName}.heartbeat`;

export interface ClusterMembership {
  readonly busMetrics: BusMetrics;
  /** Starts heartbeats and presence expiry; needs the read models and the fan-out. */
  join(options: {
    store: EventStore;
    readModels: Database.Database;
    onNodeChanged(nodeId: string): void;
    log: FastifyBaseLogger;
  }): void;
  /** Peers alive now (this node included). */
  alive(): string[];
  /** Says goodbye and stops heartbeats (before the store closes). */
  leave(): Promise<void>;
}

export function clusterMembership(
  config: ClusterSettings,
  jetstream: ClusterLog,
  registry: Registry,
  appliedCursor: () => LogCursor,
): ClusterMembership {
  let presence: ClusterPresence | undefined;
  const busMetrics = createBusMetrics(registry, {
    store: jetstream,
    server: { version: jetstream.serverVersion, features: { ...jetstream.features } },
    nc: jetstream.nc,
    appliedCursor,
    peersAlive: () => presence?.heartbeats.alive.length ?? 1,
    duplicateSeqs: () => jetstream.duplicateSeqsSeen,
  });
  return {
    busMetrics,
    join({ store, readModels, onNodeChanged, log }) {
      presence = new ClusterPresence({
        nodeId: config.nodeId,
        incarnation: randomUUID(),
        store,
        readModels,
        heartbeat: {
          nc: jetstream.nc,
          subject: heartbeatSubject(config.streamName),
          intervalMs: config.heartbeatSeconds * 1000,
          expiryMs: config.presenceExpirySeconds * 1000,
        },
        onNodeChanged,
        onHeartbeat: (beat) => busMetrics.heartbeatSeen(beat.nodeId),
        onExpired: () => busMetrics.nodeExpired(),
        log,
      });
      presence.start();
    },
    alive: () => presence?.heartbeats.alive ?? [config.nodeId],
    leave: async () => {
      await presence?.stop();
    },
  };
}
