/**
 * Closing a node, in the order its parts depend on each other. First the drain (drain.ts):
 * `/ready` turns 503 for `drainSeconds` while the node still serves, so a balancer moves
 * new work elsewhere; then new requests and sockets are refused. Sockets next, each after
 * answering the commands it had taken, so acks go out and their users' offline events go
 * in before the store closes; the HTTP requests in flight; then the HTTP server, the
 * extensions, cluster membership, live delivery, the read models and, last, the store.
 */
import type { FastifyInstance } from 'fastify';
import type { ReadModels } from '../../projections/index.js';
import type { ClusterMembership } from '../cluster/index.js';
import type { EventStore } from '../store/index.js';
import type { NodeExtension } from './extension.js';
import type { Drain } from './drain.js';
import type { Gateway } from './gateway.js';
import type { PresenceRecorder } from './presence-recorder.js';

/** The parts of a node that hold resources (sockets, ports, threads, files, connections). */
export interface RunningParts {
  readonly drain: Drain;
  /** Seconds `/ready` says 503 before new work is refused (PARLEY_DRAIN_SECONDS). */
  readonly drainSeconds: number;
  readonly gateway: Pick<Gateway, 'closeSockets'>;
  readonly presence: Pick<PresenceRecorder, 'finish'>;
  readonly app: FastifyInstance;
  readonly extensions: readonly NodeExtension[];
  readonly cluster: ClusterMembership | undefined;
  /** Stops fan-out's subscription to the store's feed. */
  readonly stopFanOut: () => void;
  readonly runner: ReadModels;
  readonly store: EventStore;
  /** Webhook delivery: stopped before the store, so it hands its lease and cursors back. */
  readonly deliverer?: { stop(): Promise<void> };
  /** The retention sweep: stopped before the store, after its round in flight. */
  readonly retention?: { stop(): Promise<void> };
}

/** How long requests in flight (a command, a page of history) may take to finish once new ones are refused. */
const HTTP_GRACE_MS = 5000;

/** Closes a running node; the first failure is thrown. */
export async function shutDown(parts: RunningParts): Promise<void> {
  parts.drain.begin();
  if (parts.drainSeconds > 0) await new Promise((r) => setTimeout(r, parts.drainSeconds * 1000));
  parts.drain.refuseNew();
  await parts.gateway.closeSockets();
  await parts.drain.idle(HTTP_GRACE_MS);
  // Offline events get one try each from here on: a node going down does not wait out an outage.
  await parts.presence.finish();
  for (const step of closingSteps(parts)) await step();
}

/** Started half-way: lets go of what holds the process open; the failure is reported by the caller. */
export async function abandon(parts: RunningParts): Promise<void> {
  for (const step of closingSteps(parts)) await Promise.resolve().then(step).catch(() => undefined);
}

/** What is closed after the sockets, in order. */
function closingSteps({ app, extensions, cluster, stopFanOut, runner, store, deliverer, retention }: RunningParts): Array<() => unknown> {
  return [
    () => app.close(),
    () => deliverer?.stop(),
    () => retention?.stop(),
    ...extensions.map((x) => () => x.close?.()),
    () => cluster?.leave(),
    stopFanOut,
    () => runner.stop(),
    () => store.close(),
    () => runner.close(),
  ];
}
