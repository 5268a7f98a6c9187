/**
 * One socket in a document room: who it is, and what it makes the room hold (its
 * awareness client ids, its updates waiting for dependencies, its frames queued for
 * writing), each bounded by limits.ts.
 */
import type { WebSocket } from 'ws';
import type { AwarenessHolder } from './awareness-owners.js';
import { PendingUpdates } from './pending-updates.js';

/** A socket that holds the document, and what it makes the room hold. */
export interface Peer extends AwarenessHolder {
  readonly socket: WebSocket;
  readonly userId: string;
  /** Awareness client ids this socket owns; removed when it goes. */
  readonly awarenessClients: Set<number>;
  /** This socket's updates that wait for missing dependencies (never in the shared doc). */
  readonly pending: PendingUpdates;
  /** Bytes of this socket's frames queued for writing and not handled yet. */
  queuedBytes: number;
}

/** A peer that holds nothing yet. */
export function newPeer(socket: WebSocket, userId: string): Peer {
  return { socket, userId, awarenessClients: new Set(), pending: new PendingUpdates(), queuedBytes: 0 };
}

/** Why the room refused or cut off a socket, for the metric. */
export type Refusal =
  | 'pending_limit'
  | 'queue_limit'
  | 'slow_consumer'
  | 'awareness_foreign'
  | 'awareness_limit'
  | 'awareness_invalid'
  | 'internal';
