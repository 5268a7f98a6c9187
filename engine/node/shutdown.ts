/**
 * Closing a node, in the order its parts depend on each other: sockets first, so their
 * users' offline events go in before the store closes; then the HTTP server, the
 * extensions, cluster membership, live delivery, the read models and, last, the store.
 */
import type { FastifyInstance } from 'fastify';
import type { ReadModels } from '../../projections/index.js';
import type { ClusterMembership } from '../cluster/index.js';
import type { EventStore } from '../store/index.js';
import type { NodeExtension } from './extension.js';
import type { Gateway } from './gateway.js';
import type { PresenceRecorder } from './presence-recorder.js';

/** The parts of a node that hold resources (sockets, ports, threads, files, connections). */
export interface RunningParts {
  readonly gateway: Pick<Gateway, 'closeSockets'>;
  readonly presence: Pick<PresenceRecorder, 'finish'>;
  readonly app: FastifyInstance;
  readonly extensions: readonly NodeExtension[];
  readonly cluster: ClusterMembership | undefined;
  /** Stops fan-out's subscription to the store's feed. */
  readonly stopFanOut: () => void;
  readonly runner: ReadModels;
  readonly store: EventStore;
}

/** Closes a running node; the first failure is thrown. */
export async function shutDown(parts: RunningParts): Promise<void> {
  await parts.gateway.closeSockets();
  // Offline events get one try each from here on: a node going down does not wait out an outage.
  await parts.presence.finish();
  for (const step of closingSteps(parts)) await step();
}

/** Started half-way: lets go of what holds the process open; the failure is reported by the caller. */
export async function abandon(parts: RunningParts): Promise<void> {
  for (const step of closingSteps(parts)) await Promise.resolve().then(step).catch(() => undefined);
}

/** What is closed after the sockets, in order. */
function closingSteps({ app, extensions, cluster, stopFanOut, runner, store }: RunningParts): Array<() => unknown> {
  return [
    () => app.close(),
    ...extensions.map((x) => () => x.close?.()),
    () => cluster?.leave(),
    stopFanOut,
    () => runner.stop(),
    () => store.close(),
    () => runner.close(),
  ];
}
