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
import {
  connectGeneration,
  gateAppends,
  generationOptions,
  JetStreamEventStore,
  liveGeneration,
  PartitionedJetStreamStore,
  type JetStreamStoreOptions,
} from '../store/jetstream/index.js';
import { checkReadModelsGeneration } from './generation-marker.js';
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

/** The JetStream store options of a node's cluster settings (the log's generation 0). */
export function clusterLogOptions(config: ClusterSettings, security: NatsSecurity, replicas: number, onError: (err: unknown) => void): JetStreamStoreOptions {
  return {
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
}

/**
 * Connects to JetStream with the node's cluster settings (stream, replicas, partitions,
 * retry budget), on the generation the log pointer names (log-generations.ts; generation
 * 0 when no `parley repartition` ever ran), with appends refused once the pointer moves
 * on (append-gate.ts: the node then has to be restarted).
 */
export async function connectClusterStore(config: ClusterSettings, onError: (err: unknown) => void): Promise<ClusterLog> {
  return openClusterLog(config, onError, true);
}

/** The cluster's log; for a node (`readModels`), after checking that its read models are of this generation. */
async function openClusterLog(config: ClusterSettings, onError: (err: unknown) => void, readModels: boolean): Promise<ClusterLog> {
  const security = natsSecurity(config);
  const { generation, replicas, generationZeroCount } = await probeLog(config, security);
  if (readModels) {
    checkReadModelsGeneration(config.dataDir, config.streamName, { generation, partitions: config.partitions }, generationZeroCount);
  }
  const options = clusterLogOptions(config, security, replicas, onError);
  // Partition 0 of generation 0 is the one stream of an unpartitioned log, so N = 1 opens exactly what it always did.
  const store = await connectGeneration(options, generation, config.partitions);
  try {
    await gateAppends(store, options, generation, replicas);
  } catch (err) {
    await store.close();
    throw err;
  }
  return store;
}

/**
 * The live generation (refusing another partition count than its own), and the replicas
 * its stream already has (1 when it does not exist yet). The store adapter makes the
 * stream match the replicas it is given, so a node started without PARLEY_REPLICAS must
 * ask rather than assume 1 and scale an R3 log down.
 */
async function probeLog(config: ClusterSettings, security: NatsSecurity): Promise<{ generation: number; replicas: number; generationZeroCount: number }> {
  const nc = await connect({ ...security, servers: config.natsUrls, name: `parley-node-${config.nodeId}-probe`, timeout: 5000 });
  try {
    const base = clusterLogOptions(config, security, config.replicas ?? 1, () => undefined);
    const { generation, generationZeroPartitions: generationZeroCount } = await liveGeneration(nc, base, config.partitions);
    if (config.replicas !== null) return { generation, replicas: config.replicas, generationZeroCount };
    const jsm = await jetstreamManager(nc, { timeout: 5000 });
    try {
      return { generation, replicas: (await jsm.streams.info(generationOptions(base, generation).streamName!)).config.num_replicas, generationZeroCount };
    } catch (err) {
      if (err instanceof JetStreamApiError && err.code === JetStreamApiCodes.StreamNotFound) return { generation, replicas: 1, generationZeroCount };
      throw err;
    }
  } finally {
    await nc.close();
  }
}

/** The log of a node's configuration: JetStream when NATS URLs are set, else SQLite in DATA_DIR (for CLI tools such as rebuild). */
export async function openLogStore(config: ClusterSettings): Promise<EventStore> {
  if (config.natsUrls.length === 0) return new SqliteEventStore({ file: join(config.dataDir, 'events.sqlite') });
  return openClusterLog(config, () => undefined, false);
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
