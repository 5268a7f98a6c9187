/**
 * Prometheus metrics of one node, in a registry of its own (several nodes can share a
 * process in tests). Names follow Prometheus conventions: `_total` counters, `_seconds`
 * histograms.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export type Metrics = ReturnType<typeof createMetrics>;

export function createMetrics(nodeId: string) {
  const registry = new Registry();
  registry.setDefaultLabels({ node: nodeId });
  // The event-loop lag histogram samples on a timer of its own: at prom-client's default
  // 10 ms that timer alone cost ~7 ms/s of CPU on an idle process here (100 ms: ~2). A stall
  // still shows in full, as the delay of the next sample.
  collectDefaultMetrics({ register: registry, prefix: 'parley_', eventLoopMonitoringPrecision: 100 });
  return {
    registry,
    sockets: new Gauge({ name: 'parley_ws_connections', help: 'Open WebSocket connections', registers: [registry] }),
    commands: new Counter({
      name: 'parley_commands_total',
      help: 'Commands handled, by type and outcome (ok, duplicate, or an error code)',
      labelNames: ['type', 'outcome'],
      registers: [registry],
    }),
    commandConflicts: new Counter({
      name: 'parley_command_conflicts_total',
      help: 'Appends that lost the race for their conversation and were decided again, by command type',
      labelNames: ['type'],
      registers: [registry],
    }),
    appendSeconds: new Histogram({
      name: 'parley_append_seconds',
      help: 'Time from a command being decided to its events being durable',
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    eventsAppended: new Counter({ name: 'parley_events_appended_total', help: 'Events appended to the log', registers: [registry] }),
    batchSize: new Histogram({
      name: 'parley_store_batch_appends',
      help: 'Appends written per group commit',
      buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512],
      registers: [registry],
    }),
    storeTransactionSeconds: new Histogram({
      name: 'parley_store_transaction_seconds',
      help: "Time the embedded store's writer thread spent in one group commit, its fsync included (parley_append_seconds less this is the queue and the hand-offs between threads)",
      buckets: [0.0002, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers: [registry],
    }),
    storeWriteFailures: new Counter({
      name: 'parley_store_write_failures_total',
      help: 'Group commits of the embedded store that failed (full or failing disk: writes answer unavailable)',
      registers: [registry],
    }),
    projectionLag: new Gauge({
      name: 'parley_projection_lag_events',
      help: 'Events in the log not yet applied by a projection',
      labelNames: ['projection'],
      registers: [registry],
    }),
    projectionPosition: new Gauge({
      name: 'parley_projection_position',
      help: 'Last log position a projection applied',
      labelNames: ['projection'],
      registers: [registry],
    }),
    projectionErrors: new Counter({
      name: 'parley_projection_errors_total',
      help: 'Failed attempts of a projection to apply the log (it stops there and retries)',
      labelNames: ['projection'],
      registers: [registry],
    }),
    projectionFailed: new Gauge({
      name: 'parley_projection_failed',
      help: '1 while a projection is stopped on a failure (see /v1/admin/projections), else 0',
      labelNames: ['projection'],
      registers: [registry],
    }),
    deliverySeconds: new Histogram({
      name: 'parley_message_delivery_seconds',
      help: 'End-to-end latency from append (event time) to fan-out to subscribed sockets',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
    storeReadSeconds: new Histogram({
      name: 'parley_store_read_seconds',
      help: 'Time to read from the event store, by kind of read (stream, all)',
      labelNames: ['read'],
      buckets: [0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers: [registry],
    }),
    eventsDelivered: new Counter({
      name: 'parley_events_delivered_total',
      help: 'Event frames sent to subscribed sockets',
      registers: [registry],
    }),
    slowConsumers: new Counter({
      name: 'parley_ws_slow_consumer_total',
      help: 'Sockets whose send buffer passed its bound: fallback (live frames turned into paced catch-up) or close (4504)',
      labelNames: ['action'],
      registers: [registry],
    }),
    errorsSent: new Counter({
      name: 'parley_errors_total',
      help: 'Coded errors sent to clients, by code',
      labelNames: ['code'],
      registers: [registry],
    }),
  };
}
