/**
 * A document room's awareness (presence, cursors): relayed to every socket, never stored.
 *
 * The server holds no awareness state itself; its own Awareness only gives it a client id
 * and relays what sockets say, after awareness-owners.ts decided which entries each socket
 * may change. Awareness also runs a timer of its own (expiring states), so the broadcast
 * handler must never throw.
 */
import * as awarenessProtocol from 'y-protocols/awareness';
import * as Y from 'yjs';
import { AwarenessOwners } from './awareness-owners.js';
import type { SyncLimits } from './limits/index.js';
import type { Peer, Refusal } from './peer.js';
import type { RoomOutput } from './room-output.js';
import { writeAwarenessFrame } from './wire.js';

export interface RoomAwarenessDeps {
  limits: SyncLimits;
  output: RoomOutput;
  /** The room's sockets, to relay changes to. */
  peers(): Iterable<Peer>;
  onRefused(reason: Refusal, count?: number): void;
  onError(err: unknown): void;
}

/** Released client ids remembered (so only their user may take them back at the same clock). */
const REMEMBERED_RELEASED = 1024;

/** The room's Awareness, fed only what each socket may change, relayed to every socket. */
export class RoomAwareness {
  private readonly awareness = new awarenessProtocol.Awareness(new Y.Doc());
  private readonly owners: AwarenessOwners<Peer>;

  constructor(private readonly deps: RoomAwarenessDeps) {
    this.awareness.setLocalState(null);
    this.awareness.on('update', this.relay);
    this.owners = new AwarenessOwners(this.awareness, {
      clientsPerSocket: deps.limits.awarenessClientsPerSocket,
      stateBytes: deps.limits.awarenessStateBytes,
      remembered: REMEMBERED_RELEASED,
    });
  }

  /** Every state known, for a socket that joins; null when there is none. */
  statesFrame(): Uint8Array | null {
    const states = [...this.awareness.getStates().keys()];
    return states.length > 0 ? writeAwarenessFrame(this.awareness, states) : null;
  }

  /** Every state known, for a socket that asks (sent even when there is none). */
  answerQuery(peer: Peer): void {
    this.deps.output.send(peer, writeAwarenessFrame(this.awareness, [...this.awareness.getStates().keys()]));
  }

  /** Applies the entries of `update` that `peer` may change; refuses past a bound. */
  receive(peer: Peer, update: Uint8Array): void {
    const verdict = this.owners.filter(peer, update);
    if (verdict.foreign > 0) this.deps.onRefused('awareness_foreign', verdict.foreign);
    if (verdict.update) awarenessProtocol.applyAwarenessUpdate(this.awareness, verdict.update, peer);
    if (verdict.refused === 'limit_exceeded') {
      this.deps.onRefused('awareness_limit');
      const limits = this.deps.limits;
      this.deps.output.deny(
        peer,
        'limit_exceeded',
        `At most ${limits.awarenessClientsPerSocket} awareness client ids per socket, states of at most ${limits.awarenessStateBytes} bytes`,
      );
    } else if (verdict.refused) {
      this.deps.onRefused('awareness_invalid');
      this.deps.output.deny(peer, 'invalid_request', 'Malformed awareness update');
    }
  }

  /** Removes the states of the ids `peer` owned (the removal is relayed). */
  release(peer: Peer): void {
    const ids = this.owners.release(peer);
    if (ids.length > 0) awarenessProtocol.removeAwarenessStates(this.awareness, ids, null);
  }

  destroy(): void {
    this.awareness.off('update', this.relay);
    this.awareness.doc.destroy();
    this.awareness.destroy();
  }

  private readonly relay = (
    { added, updated, removed }: { added: number[]; updated: number[]; removed: number[] },
    _origin: unknown,
  ): void => {
    try {
      this.deps.output.broadcast(this.deps.peers(), writeAwarenessFrame(this.awareness, [...added, ...updated, ...removed]));
    } catch (err) {
      this.deps.onError(err);
    }
  };
}
