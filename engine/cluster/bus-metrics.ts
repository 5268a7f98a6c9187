/**
 * Metrics of the bus (NATS JetStream) on a node's registry:
 *
 * - `parley_feed_lag_events`: the stream's head position minus what this node's read
 *   models have applied (read at scrape time; the last value stays if NATS is away);
 * - `parley_bus_publish_seconds`: append latency to the stream (publish to PubAck);
 * - `parley_nats_reconnects_total`, `parley_nats_disconnects_total`, `parley_nats_connected`,
 *   `parley_nats_server_info{version, multi_filter, per_message_ttl, batch_publish}`;
 * - `parley_duplicate_seq_total`: envelopes skipped because an earlier one took their seq
 *   (should stay 0; see engine/store/jetstream/duplicate-seqs.ts);
 * - `parley_cluster_heartbeats_received_total{from}`, `parley_cluster_peers_alive`
 *   (this node included), `parley_cluster_nodes_expired_total`.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { decorate, headCursorOf, type EventStore, type LogCursor } from '../store/index.js';

export interface BusMetricsSources {
  store: EventStore;
  /** The connected nats-server's version and what it offers beyond 2.9. */
  server: { version: string; features: Record<string, boolean> };
  nc: NatsConnection;
  /** Per partition, the lowest position every read model of this node has applied. */
  appliedCursor(): LogCursor;
  peersAlive(): number;
  /** Distinct log envelopes skipped because an earlier one took their seq (duplicate-seqs.ts). */
  duplicateSeqs?(): number;
}

export type BusMetrics = ReturnType<typeof createBusMetrics>;

export function createBusMetrics(registry: Registry, sources: BusMetricsSources) {
  let lastLag = 0;
  new Gauge({
    name: 'parley_feed_lag_events',
    help: 'Positions in the stream not yet applied by this node (stream head minus applied position)',
    registers: [registry],
    async collect() {
      try {
        const head = await withTimeout(headCursorOf(sources.store), 1000);
        lastLag = sources.appliedCursor().behind(head);
      } catch {
        // NATS away: keep the last known lag rather than fail the scrape.
      }
      this.set(lastLag);
    },
  });
  const publishSeconds = new Histogram({
    name: 'parley_bus_publish_seconds',
    help: 'Time from publishing an append to JetStream to its acknowledgement (or failure)',
    labelNames: ['outcome'],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 15],
    registers: [registry],
  });
  const reconnects = new Counter({ name: 'parley_nats_reconnects_total', help: 'Reconnections to NATS', registers: [registry] });
  const disconnects = new Counter({ name: 'parley_nats_disconnects_total', help: 'Losses of the NATS connection', registers: [registry] });
  const connected = new Gauge({ name: 'parley_nats_connected', help: '1 while connected to NATS', registers: [registry] });
  connected.set(1);
  const serverInfo = new Gauge({
    name: 'parley_nats_server_info',
    help: 'The connected nats-server: version, and which features newer than 2.9 it has (Parley needs none)',
    labelNames: ['version', 'multi_filter', 'per_message_ttl', 'batch_publish'],
    registers: [registry],
  });
  const reportServer = () => {
    serverInfo.reset();
    serverInfo.set(
      {
        version: sources.server.version,
        multi_filter: String(Boolean(sources.server.features.multiFilter)),
        per_message_ttl: String(Boolean(sources.server.features.perMessageTtl)),
        batch_publish: String(Boolean(sources.server.features.batchPublish)),
      },
      1,
    );
  };
  reportServer();
  const heartbeats = new Counter({
    name: 'parley_cluster_heartbeats_received_total',
    help: 'Presence heartbeats received, by sending node',
    labelNames: ['from'],
    registers: [registry],
  });
  new Gauge({
    name: 'parley_cluster_peers_alive',
    help: 'Nodes heard from within the presence expiry, this one included',
    registers: [registry],
    collect() {
      this.set(sources.peersAlive());
    },
  });
  let duplicatesReported = 0;
  new Counter({
    name: 'parley_duplicate_seq_total',
    help: 'Envelopes in the log that claim a conversation seq an earlier one already took; skipped on every node (a nats-server bug or a foreign writer: investigate)',
    registers: [registry],
    collect() {
      const seen = sources.duplicateSeqs?.() ?? 0;
      if (seen > duplicatesReported) this.inc(seen - duplicatesReported);
      duplicatesReported = Math.max(duplicatesReported, seen);
    },
  });
  const expired = new Counter({
    name: 'parley_cluster_nodes_expired_total',
    help: 'Times this node declared a peer dead (its heartbeats stopped for the expiry)',
    registers: [registry],
  });

  void (async () => {
    for await (const s of sources.nc.status()) {
      if (s.type === 'disconnect') {
        disconnects.inc();
        connected.set(0);
      } else if (s.type === 'reconnect') {
        reconnects.inc();
        connected.set(1);
        reportServer();
      }
    }
  })().catch(() => undefined);

  return {
    heartbeatSeen: (from: string) => heartbeats.inc({ from }),
    nodeExpired: () => expired.inc(),
    /** The store with its appends timed into `parley_bus_publish_seconds`. */
    timedAppends(store: EventStore): EventStore {
      return decorate(store, {
        append: async (stream, events, options) => {
          const started = performance.now();
          let outcome = 'error';
          try {
            const result = await store.append(stream, events, options);
            outcome = result.duplicate ? 'duplicate' : 'ok';
            return result;
          } finally {
            publishSeconds.observe({ outcome }, (performance.now() - started) / 1000);
          }
        },
      });
    },
  };
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('timeout')), ms);
    p.then(
      (v) => (clearTimeout(timer), resolve(v)),
      (e) => (clearTimeout(timer), reject(e)),
    );
  });
}
