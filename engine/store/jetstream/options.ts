/** Options of the JetStream event store, and their defaults. */
import type { NodeConnectionOptions } from '@nats-io/transport-node';

export interface JetStreamStoreOptions {
  /** NATS URL(s); give every cluster member so the client can fail over. */
  servers: string | string[];
  /** The JetStream stream holding the log (default 'PARLEY_EVENTS'). */
  streamName?: string;
  /** Subjects are `<subjectPrefix>.<encoded store stream>` (default 'parley.events'). */
  subjectPrefix?: string;
  /** JetStream replicas of the log and the idempotency index (default 1; 3 in a cluster). */
  replicas?: number;
  /** The server-side `Nats-Msg-Id` de-duplication window (default 2 minutes). */
  duplicateWindowMs?: number;
  /** How long one request waits for an answer (default 5 s). */
  requestTimeoutMs?: number;
  /** How long transient failures are retried before StoreUnavailableError (default 15 s). */
  retryBudgetMs?: number;
  /**
   * How long `connect` waits, once connected, for JetStream to take the stream and the
   * index (default 60 s, never less than `retryBudgetMs`). A cluster started together with
   * its nodes elects leaders and answers "insufficient resources" until every peer is
   * current; a node starting then should wait, not exit. Nothing waits on it meanwhile.
   */
  startupBudgetMs?: number;
  /**
   * How often the idempotency index is repaired from the log (default: half the duplicate
   * window, at most 15 s). Each run moves the shared checkpoint, so a node that restarts
   * re-checks at most this long of traffic before it listens.
   */
  indexRepairIntervalMs?: number;
  /** TLS and credentials of the connection, as nats.js takes them (default: none). */
  security?: Pick<NodeConnectionOptions, 'tls' | 'authenticator'>;
  /** The NATS connection name, shown in server monitoring. */
  name?: string;
  /** Errors that are not any caller's (feed hiccups, a failed index write). Default: ignore. */
  onError?: (err: unknown) => void;
}

export type ResolvedOptions = Required<Omit<JetStreamStoreOptions, 'servers'>> & { servers: string[] };

export function resolveOptions(o: JetStreamStoreOptions): ResolvedOptions {
  const replicas = o.replicas ?? 1;
  if (!Number.isInteger(replicas) || replicas < 1 || replicas > 5) throw new RangeError('replicas must be 1..5');
  const duplicateWindowMs = o.duplicateWindowMs ?? 120_000;
  return {
    servers: Array.isArray(o.servers) ? o.servers : [o.servers],
    streamName: o.streamName ?? 'PARLEY_EVENTS',
    subjectPrefix: o.subjectPrefix ?? 'parley.events',
    replicas,
    duplicateWindowMs,
    indexRepairIntervalMs: o.indexRepairIntervalMs ?? Math.min(duplicateWindowMs / 2, 15_000),
    requestTimeoutMs: o.requestTimeoutMs ?? 5_000,
    retryBudgetMs: o.retryBudgetMs ?? 15_000,
    startupBudgetMs: Math.max(o.startupBudgetMs ?? 60_000, o.retryBudgetMs ?? 15_000),
    security: o.security ?? {},
    name: o.name ?? 'parley-event-store',
    onError: o.onError ?? (() => undefined),
  };
}
