/**
 * Running Parley as a cluster over NATS JetStream: a node's cluster store and membership
 * (presence heartbeats with expiry, bus metrics), and the local launcher behind
 * `parley cluster` (a 3-server NATS JetStream cluster plus N nodes).
 */
export { clusterLogOptions, clusterMembership, connectClusterStore, heartbeatSubject, isClusterLog, openLogStore, type ClusterLog, type ClusterMembership } from './cluster-store.js';
export { Heartbeats, type Heartbeat, type HeartbeatOptions } from './heartbeats.js';
export { createBusMetrics, type BusMetrics } from './bus-metrics.js';
export { startLocalCluster, type LocalCluster, type LocalClusterOptions } from './local-cluster.js';
export { natsSecurity } from './nats-security.js';
export { ReadModelsOfAnotherGenerationError } from './generation-marker.js';
export { natsClusterFormed, natsServerConfig, natsServerReady, natsStoreDir, natsLogFile, type NatsServerSpec } from './nats-server.js';
