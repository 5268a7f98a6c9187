/**
 * A document room's updates waiting for missing dependencies: each writer's own record
 * (pending-updates.ts), booked against the room's and the user's bounds, plus the durable
 * updates (log, feed) that wait too.
 *
 * After every transaction on the document the room tells this which Yjs clients moved
 * (`observe`); the records that wait for one of them are marked woken, and the room retries
 * them: a peer's as a write of that peer, the durable ones as they are.
 */
import * as Y from 'yjs';
import type { SyncLimits } from './limits/index.js';
import type { Peer } from './peer.js';
import { PendingUpdates, type PendingLedger } from './pending-updates.js';

/** Bytes and updates a record holds. */
export interface Held {
  bytes: number;
  updates: number;
}

/** One room's updates waiting for dependencies: per-writer records, totals, wake-ups. */
export class RoomPending {
  /** Peers whose pending record is not empty, and the room's totals over them. */
  private readonly peers = new Set<Peer>();
  private bytes = 0;
  private updates = 0;
  /** Peers whose pending updates may integrate now (the doc moved past what they wait for). */
  private readonly woken = new Set<Peer>();
  /** Durable updates (log, feed) that wait for dependencies; retried as the doc moves. */
  private durable = new PendingUpdates();
  private durableWoken = false;

  constructor(
    private readonly limits: SyncLimits,
    /** Pending updates per user, shared by every room of the node. */
    private readonly byUser: PendingLedger,
  ) {}

  /** Held waiting for dependencies, all writers. */
  get held(): Held {
    return { bytes: this.bytes, updates: this.updates };
  }

  /**
   * Books the change of `peer`'s pending record since `before` in the room's and the
   * user's totals; false (nothing booked, the record cleared) when that would pass a bound.
   */
  account(peer: Peer, before: Held): boolean {
    const bytes = peer.pending.bytes - before.bytes;
    const updates = peer.pending.updates - before.updates;
    const grows = bytes > 0 || updates > 0;
    if (
      grows &&
      (this.bytes + bytes > this.limits.pendingBytesPerDocument ||
        this.updates + updates > this.limits.pendingUpdatesPerDocument ||
        this.byUser.wouldExceed(peer.userId, bytes, updates))
    ) {
      // Book nothing: clearing the record unbooks what `before` held.
      peer.pending.clear();
      this.unbook(peer, before);
      return false;
    }
    this.bytes += bytes;
    this.updates += updates;
    this.byUser.add(peer.userId, bytes, updates);
    if (peer.pending.empty) this.peers.delete(peer);
    else this.peers.add(peer);
    return true;
  }

  /** Drops what `peer` set aside and unbooks it. */
  drop(peer: Peer): void {
    this.unbook(peer, { bytes: peer.pending.bytes, updates: peer.pending.updates });
    peer.pending.clear();
  }

  /** The peer left: nothing of it is held or retried. */
  forget(peer: Peer): void {
    this.drop(peer);
    this.woken.delete(peer);
  }

  /** Drops every peer's record (the room is going). */
  dropAll(): void {
    for (const peer of this.peers) this.drop(peer);
  }

  /** Marks the records that the Yjs clients this transaction moved may let integrate. */
  observe(tr: Y.Transaction): void {
    if (this.peers.size === 0 && this.durable.empty) return;
    for (const [client, state] of tr.afterState) {
      if ((tr.beforeState.get(client) ?? 0) === state) continue;
      for (const peer of this.peers) if (peer.pending.wakes(client, state)) this.woken.add(peer);
      if (this.durable.wakes(client, state)) this.durableWoken = true;
    }
  }

  /** True (once) when `peer`'s record was woken since it last looked. */
  takeWoken(peer: Peer): boolean {
    return this.woken.delete(peer);
  }

  /** The woken peers but `except` (which retries in its own write), no longer marked. */
  takeWokenPeers(except: Peer | null): Peer[] {
    const peers = [...this.woken].filter((peer) => peer !== except);
    for (const peer of peers) this.woken.delete(peer);
    return peers;
  }

  /** A newly loaded document: a stored state may hold updates waiting for others (e.g. edits on a message's seed). */
  startDurable(doc: Y.Doc): void {
    this.durable = new PendingUpdates();
    this.durable.setAside(doc);
  }

  /** Moves what a durable update left pending in `doc` into the durable record. */
  setAsideDurable(doc: Y.Doc): void {
    this.durable.setAside(doc);
  }

  /** Applies the durable updates that may integrate now (a few rounds at most). */
  retryDurable(doc: Y.Doc, origin: unknown): void {
    for (let round = 0; round < 4 && this.durableWoken; round++) {
      this.durableWoken = false;
      const held = this.durable.drain();
      if (!held) return;
      Y.applyUpdateV2(doc, held, origin);
      this.durable.setAside(doc);
    }
  }

  private unbook(peer: Peer, held: Held): void {
    this.bytes -= held.bytes;
    this.updates -= held.updates;
    this.byUser.add(peer.userId, -held.bytes, -held.updates);
    this.peers.delete(peer);
  }
}
