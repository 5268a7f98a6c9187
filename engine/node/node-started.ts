/**
 * `NodeStarted`: the node records it once it listens (a node that cannot bind its port
 * never started), so presence forgets the sessions a crashed run of this node left
 * behind. Requests that arrive between listening and that record wait for it, so no
 * session opened meanwhile is forgotten.
 */
import type { FastifyInstance } from 'fastify';
import { toNewEvents } from '../domain/index.js';
import { nodeStream, type EventStore } from '../store/index.js';
import { StartupError } from './config/index.js';

export interface StartedGate {
  /** True once `NodeStarted` is in the log. */
  readonly started: boolean;
  /** Lets the waiting requests (and every later one) through. */
  open(): void;
}

/** Holds every request of `app` until `open()`: add it before the routes. */
export function holdRequestsUntilStarted(app: FastifyInstance): StartedGate {
  let started = false;
  let release: () => void = () => undefined;
  const recorded = new Promise<void>((r) => (release = r));
  app.addHook('onRequest', async () => {
    if (!started) await recorded;
  });
  return {
    get started() {
      return started;
    },
    open() {
      started = true;
      release();
    },
  };
}

/** Appends `NodeStarted` to the node's stream; a failure is a StartupError naming the setting of the store. */
export async function recordNodeStarted(store: EventStore, nodeId: string, storeSetting: string): Promise<void> {
  await store
    .append(nodeStream(nodeId), toNewEvents([{ type: 'NodeStarted', data: { nodeId } }], { actor: 'system', commandId: `start-${Date.now()}` }), {
      expectedVersion: 'any',
    })
    .catch((err: unknown) => {
      throw new StartupError(`cannot record NodeStarted in the event store: ${(err as Error).message}; check ${storeSetting}`, { cause: err });
    });
}
