/**
 * One document loaded in memory, and the sockets that hold it.
 *
 * Writes are handled one at a time per document: check the write rule, apply the update,
 * keep what it integrated, append that as an event, and only once it is durable forward
 * it to the other sockets. If the append fails the document is reloaded from the log, so
 * memory never keeps what the log refused. Updates that other nodes (or other rooms of
 * this node) appended arrive from the store's feed and are applied and forwarded as they
 * come; applying an update twice changes nothing, so overlaps are harmless.
 *
 * What one socket can make the room hold is bounded (limits.ts): updates waiting for
 * missing dependencies live in the writer's own record, never in the shared document
 * (pending-updates.ts); frames queued for writing; awareness ids and states
 * (awareness-owners.ts); bytes queued to a socket that does not read. Past a bound the
 * socket is told why (`limit_exceeded`) and closed with a transient code, so it resyncs
 * with step 1/2 when it reconnects and nothing acknowledged is lost. Every path in here
 * that runs outside a caller's try (queued writes, Yjs and awareness events, the
 * awareness timer) catches, logs and closes the socket concerned.
 */
import * as decoding from 'lib0/decoding';
import type { WebSocket } from 'ws';
import * as awarenessProtocol from 'y-protocols/awareness';
import * as Y from 'yjs';
import { CLOSE, ParleyError, isParleyError, type DocRef, type ErrorBody, type ErrorCode } from '../protocol/index.js';
import { TEXT_NAME } from '../protocol/yjs/index.js';
import { AwarenessOwners, type AwarenessHolder } from './awareness-owners.js';
import type { SyncLimits } from './limits/index.js';
import { PendingUpdates, type PendingLedger } from './pending-updates.js';
import {
  MESSAGE_AUTH,
  MESSAGE_AWARENESS,
  MESSAGE_QUERY_AWARENESS,
  MESSAGE_SYNC,
  SYNC_STEP1,
  SYNC_STEP2,
  SYNC_UPDATE,
  writeAwarenessFrame,
  writeDeniedFrame,
  writeSyncFrame,
} from './wire.js';

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

export function newPeer(socket: WebSocket, userId: string): Peer {
  return { socket, userId, awarenessClients: new Set(), pending: new PendingUpdates(), queuedBytes: 0 };
}

export type WriteOutcome = 'ok' | 'noop' | ErrorCode;

/** Why the room refused or cut off a socket, for the metric. */
export type Refusal =
  | 'pending_limit'
  | 'queue_limit'
  | 'slow_consumer'
  | 'awareness_foreign'
  | 'awareness_limit'
  | 'awareness_invalid'
  | 'internal';

export interface RoomDeps {
  readonly name: string;
  readonly ref: DocRef;
  /** The document's current state from the read model (snapshot + later updates). */
  load(): Promise<Y.Doc>;
  /** Null when `userId` may write now, else why not (a cheap check before applying). */
  writeRefusal(userId: string): Promise<ErrorCode | null>;
  /** Appends the integrated update; checks the write rule again, atomically with the append. */
  append(userId: string, update: Uint8Array, text: string): Promise<void>;
  maxTextBytes: number;
  limits: SyncLimits;
  /** Bytes queued to a socket it has not read, past which it is closed as a slow consumer. */
  sendBufferBytes: number;
  /** Pending updates per user, shared by every room of the node. */
  pendingByUser: PendingLedger;
  onWrite(outcome: WriteOutcome): void;
  onRefused(reason: Refusal, count?: number): void;
  onError(err: unknown): void;
}

/** The transaction origin of a client's write while it is being checked and appended. */
const WRITING = Symbol('writing');
/** The origin of updates that are already durable (feed, load). */
const DURABLE = Symbol('durable');

export class DocumentRoom {
  readonly peers = new Map<WebSocket, Peer>();
  /** Sockets that are joining (authorized, waiting for the load); keeps the room loaded. */
  joining = 0;
  doc: Y.Doc | null = null;
  readonly ready: Promise<void>;
  /** The server holds no awareness state itself; this doc only gives Awareness a client id. */
  private readonly awareness = new awarenessProtocol.Awareness(new Y.Doc());
  private readonly owners: AwarenessOwners<Peer>;
  private queue: Promise<void> = Promise.resolve();
  private captured: Uint8Array[] | null = null;
  private early: Uint8Array[] = [];
  private closed = false;
  /** Peers whose pending record is not empty, and the room's totals over them. */
  private readonly pendingPeers = new Set<Peer>();
  private pendingBytes = 0;
  private pendingUpdates = 0;
  /** Peers whose pending updates may integrate now (the doc moved past what they wait for). */
  private readonly woken = new Set<Peer>();
  /** Durable updates (log, feed) that wait for dependencies; retried as the doc moves. */
  private durablePending = new PendingUpdates();
  private durableWoken = false;

  constructor(private readonly deps: RoomDeps) {
    this.awareness.setLocalState(null);
    this.awareness.on('update', this.onAwareness);
    this.owners = new AwarenessOwners(this.awareness, {
      clientsPerSocket: deps.limits.awarenessClientsPerSocket,
      stateBytes: deps.limits.awarenessStateBytes,
      remembered: 1024,
    });
    this.ready = this.deps.load().then(
      (doc) => this.attach(doc),
      (err) => {
        // A room that could not load is replaced by the next socket that opens the document.
        this.closed = true;
        throw err;
      },
    );
  }

  get name(): string {
    return this.deps.name;
  }

  get ref(): DocRef {
    return this.deps.ref;
  }

  get idle(): boolean {
    return this.peers.size === 0 && this.joining === 0;
  }

  /** The document could not be (re)loaded; the server replaces the room. */
  get failed(): boolean {
    return this.closed;
  }

  /** Bytes of updates held waiting for dependencies, all writers. */
  get pendingHeld(): { bytes: number; updates: number } {
    return { bytes: this.pendingBytes, updates: this.pendingUpdates };
  }

  /** Adds a socket that may read the document and opens the sync (server's step 1 first). */
  join(peer: Peer): void {
    this.peers.set(peer.socket, peer);
    this.enqueue(peer, async () => {
      this.send(peer, writeSyncFrame(SYNC_STEP1, Y.encodeStateVector(this.doc!)));
      const states = [...this.awareness.getStates().keys()];
      if (states.length > 0) this.send(peer, writeAwarenessFrame(this.awareness, states));
    });
  }

  /** Forgets a socket: drops what it set aside and removes its awareness states (broadcast). */
  leave(socket: WebSocket): void {
    const peer = this.peers.get(socket);
    if (!peer) return;
    this.peers.delete(socket);
    this.dropPending(peer);
    this.woken.delete(peer);
    const ids = this.owners.release(peer);
    if (ids.length > 0) awarenessProtocol.removeAwarenessStates(this.awareness, ids, null);
  }

  /** An update that is already in the log (from the feed): apply it and forward what is new. */
  applyDurable(update: Uint8Array): void {
    if (!this.doc) {
      this.early.push(update);
      return;
    }
    try {
      Y.applyUpdate(this.doc, update, DURABLE);
      this.durablePending.setAside(this.doc);
      this.retryDurable();
      this.wakePeers(null);
    } catch (err) {
      this.deps.onError(err);
    }
  }

  /** Handles one binary frame from a peer. */
  receive(peer: Peer, data: Uint8Array): void {
    if (!this.peers.has(peer.socket)) return;
    try {
      const decoder = decoding.createDecoder(data);
      const type = decoding.readVarUint(decoder);
      switch (type) {
        case MESSAGE_SYNC: {
          const syncType = decoding.readVarUint(decoder);
          const bytes = decoding.readVarUint8Array(decoder);
          if (syncType === SYNC_STEP1) {
            Y.decodeStateVector(bytes); // throws on garbage, answered below
            if (!this.admit(peer, bytes.byteLength)) return;
            // Only what the peer lacks: the diff against its state vector.
            this.enqueue(peer, async () => {
              peer.queuedBytes -= bytes.byteLength;
              this.send(peer, writeSyncFrame(SYNC_STEP2, Y.encodeStateAsUpdate(this.doc!, bytes)));
            });
          } else if (syncType === SYNC_STEP2 || syncType === SYNC_UPDATE) {
            if (!this.admit(peer, bytes.byteLength)) return;
            this.enqueue(peer, () => {
              peer.queuedBytes -= bytes.byteLength;
              return this.write(peer, bytes);
            });
          } else {
            this.deny(peer, 'invalid_request', 'Unknown sync message type');
          }
          break;
        }
        case MESSAGE_AWARENESS:
          this.receiveAwareness(peer, decoding.readVarUint8Array(decoder));
          break;
        case MESSAGE_QUERY_AWARENESS:
          this.send(peer, writeAwarenessFrame(this.awareness, [...this.awareness.getStates().keys()]));
          break;
        case MESSAGE_AUTH:
          break;
        default:
          this.deny(peer, 'invalid_request', 'Unknown message type');
      }
    } catch {
      this.deny(peer, 'invalid_request', 'Malformed y-protocols frame');
    }
  }

  /** Closes every socket of `userId` (they lost the right to read). */
  revoke(userId: string | null, code: number, reason: string): void {
    for (const peer of [...this.peers.values()]) {
      if (userId === null || peer.userId === userId) this.cutOff(peer, code, reason);
    }
  }

  /** Resolves once queued writes have finished (never rejects). */
  drained(): Promise<void> {
    return this.queue;
  }

  destroy(): void {
    this.closed = true;
    for (const peer of this.pendingPeers) this.dropPending(peer);
    this.awareness.off('update', this.onAwareness);
    this.awareness.doc.destroy();
    this.awareness.destroy();
    this.doc?.destroy();
  }

  private receiveAwareness(peer: Peer, update: Uint8Array): void {
    const verdict = this.owners.filter(peer, update);
    if (verdict.foreign > 0) this.deps.onRefused('awareness_foreign', verdict.foreign);
    if (verdict.update) awarenessProtocol.applyAwarenessUpdate(this.awareness, verdict.update, peer);
    if (verdict.refused === 'limit_exceeded') {
      this.deps.onRefused('awareness_limit');
      this.deny(
        peer,
        'limit_exceeded',
        `At most ${this.deps.limits.awarenessClientsPerSocket} awareness client ids per socket, states of at most ${this.deps.limits.awarenessStateBytes} bytes`,
      );
    } else if (verdict.refused) {
      this.deps.onRefused('awareness_invalid');
      this.deny(peer, 'invalid_request', 'Malformed awareness update');
    }
  }

  /** Counts a frame against the socket's write queue; false (and the socket cut off) past it. */
  private admit(peer: Peer, bytes: number): boolean {
    if (peer.queuedBytes + bytes <= this.deps.limits.queuedBytesPerSocket) {
      peer.queuedBytes += bytes;
      return true;
    }
    this.deps.onRefused('queue_limit');
    this.deny(peer, 'limit_exceeded', `More than ${this.deps.limits.queuedBytesPerSocket} bytes of updates are waiting to be written`);
    this.cutOff(peer, CLOSE.tryAgainLater, 'limit_exceeded');
    return false;
  }

  /**
   * Writes `update` from `peer` (or, with null, retries what the peer set aside): checks
   * the rule, applies, appends what integrated, forwards it once durable.
   */
  private async write(peer: Peer, update: Uint8Array | null): Promise<void> {
    if (this.closed || !this.peers.has(peer.socket)) return;
    if (update) {
      let empty: boolean;
      try {
        empty = isEmptyUpdate(update);
      } catch {
        this.deps.onWrite('invalid_request');
        return this.deny(peer, 'invalid_request', 'The update could not be decoded');
      }
      if (empty) return;
    } else if (peer.pending.empty) {
      return;
    }
    const refusal = await this.deps.writeRefusal(peer.userId);
    if (this.closed || !this.peers.has(peer.socket)) return;
    const doc = this.doc!;
    if (refusal) {
      this.dropPending(peer);
      // A reader's step 2 carries the delete set it received from us: not a write.
      if (update && !addsTo(doc, update)) return;
      this.deps.onWrite(refusal);
      return this.deny(peer, refusal);
    }
    const before = { bytes: peer.pending.bytes, updates: peer.pending.updates };
    this.captured = [];
    try {
      let retry = update === null;
      if (update) {
        Y.applyUpdate(doc, update, WRITING);
        peer.pending.setAside(doc);
      }
      // What this peer set aside earlier may integrate now. Each round needs the document
      // to have moved past what the record waits for, so few rounds ever run.
      for (let round = 0; round < 4 && (retry || this.woken.delete(peer)); round++) {
        retry = false;
        const held = peer.pending.drain();
        if (!held) break;
        Y.applyUpdateV2(doc, held, WRITING);
        peer.pending.setAside(doc);
      }
    } catch {
      this.captured = null;
      this.account(peer, before);
      this.dropPending(peer);
      await this.reload();
      this.deps.onWrite('invalid_request');
      return this.deny(peer, 'invalid_request', 'The update could not be applied');
    }
    const captured = this.captured;
    this.captured = null;
    if (!this.account(peer, before)) {
      // Past a bound: what this peer set aside is dropped (account did); what integrated
      // is still appended below, and the socket resyncs when it reconnects.
      this.deps.onRefused('pending_limit');
      this.deny(peer, 'limit_exceeded', 'Too many updates are waiting for changes this document does not have');
      this.cutOff(peer, CLOSE.tryAgainLater, 'limit_exceeded');
    }
    if (captured.length === 0) {
      this.afterChange(peer);
      return this.deps.onWrite('noop');
    }
    const integrated = captured.length === 1 ? captured[0]! : Y.mergeUpdates(captured);
    const text = doc.getText(TEXT_NAME).toString();
    try {
      if (Buffer.byteLength(text, 'utf8') > this.deps.maxTextBytes) {
        throw new ParleyError('text_too_long', `The document's text is longer than ${this.deps.maxTextBytes} bytes`);
      }
      await this.deps.append(peer.userId, integrated, text);
    } catch (err) {
      await this.reload();
      const e = isParleyError(err) ? err : new ParleyError('internal', undefined, { cause: err });
      if (e.code === 'internal') this.deps.onError(err);
      this.deps.onWrite(e.code);
      return this.deny(peer, e.code, e.message);
    }
    this.deps.onWrite('ok');
    this.broadcast(writeSyncFrame(SYNC_UPDATE, integrated), peer.socket);
    this.afterChange(peer);
  }

  /**
   * Books the change of `peer`'s pending record since `before` in the room's and the
   * user's totals; false (nothing booked) when that would pass a bound.
   */
  private account(peer: Peer, before: { bytes: number; updates: number }): boolean {
    const bytes = peer.pending.bytes - before.bytes;
    const updates = peer.pending.updates - before.updates;
    const limits = this.deps.limits;
    const grows = bytes > 0 || updates > 0;
    if (
      grows &&
      (this.pendingBytes + bytes > limits.pendingBytesPerDocument ||
        this.pendingUpdates + updates > limits.pendingUpdatesPerDocument ||
        this.deps.pendingByUser.wouldExceed(peer.userId, bytes, updates))
    ) {
      // Book nothing: the caller drops the record, which unbooks what `before` held.
      peer.pending.clear();
      this.unbook(peer, before);
      return false;
    }
    this.pendingBytes += bytes;
    this.pendingUpdates += updates;
    this.deps.pendingByUser.add(peer.userId, bytes, updates);
    if (peer.pending.empty) this.pendingPeers.delete(peer);
    else this.pendingPeers.add(peer);
    return true;
  }

  /** Drops what `peer` set aside and unbooks it. */
  private dropPending(peer: Peer): void {
    this.unbook(peer, { bytes: peer.pending.bytes, updates: peer.pending.updates });
    peer.pending.clear();
  }

  private unbook(peer: Peer, held: { bytes: number; updates: number }): void {
    this.pendingBytes -= held.bytes;
    this.pendingUpdates -= held.updates;
    this.deps.pendingByUser.add(peer.userId, -held.bytes, -held.updates);
    this.pendingPeers.delete(peer);
  }

  /** After the document moved: durable updates and other peers' pending ones may integrate. */
  private afterChange(writer: Peer): void {
    this.retryDurable();
    this.wakePeers(writer);
  }

  private retryDurable(): void {
    for (let round = 0; round < 4 && this.durableWoken && this.doc; round++) {
      this.durableWoken = false;
      const held = this.durablePending.drain();
      if (!held) return;
      Y.applyUpdateV2(this.doc, held, DURABLE);
      this.durablePending.setAside(this.doc);
    }
  }

  /** Queues a retry for every peer (but `except`, which retries in its own write) that woke. */
  private wakePeers(except: Peer | null): void {
    for (const peer of [...this.woken]) {
      if (peer === except) continue;
      this.woken.delete(peer);
      this.enqueue(peer, () => this.write(peer, null));
    }
  }

  private attach(doc: Y.Doc): void {
    doc.on('update', (update: Uint8Array, origin: unknown) => {
      if (origin === WRITING && this.captured) this.captured.push(update);
      else this.broadcast(writeSyncFrame(SYNC_UPDATE, update), null);
    });
    doc.on('afterTransaction', (tr: Y.Transaction) => {
      if (this.pendingPeers.size === 0 && this.durablePending.empty) return;
      for (const [client, state] of tr.afterState) {
        if ((tr.beforeState.get(client) ?? 0) === state) continue;
        for (const peer of this.pendingPeers) if (peer.pending.wakes(client, state)) this.woken.add(peer);
        if (this.durablePending.wakes(client, state)) this.durableWoken = true;
      }
    });
    this.doc = doc;
    // A stored state may hold updates waiting for others (e.g. edits on a message's seed).
    this.durablePending = new PendingUpdates();
    this.durablePending.setAside(doc);
    const early = this.early;
    this.early = [];
    for (const u of early) this.applyDurable(u);
  }

  /** Drops what memory holds and loads the document again from the log. */
  private async reload(): Promise<void> {
    const old = this.doc!;
    this.doc = null;
    try {
      this.attach(await this.deps.load());
    } catch (err) {
      this.deps.onError(err);
      this.closed = true;
      this.revoke(null, 1011, 'unavailable');
      this.doc = old;
      return;
    }
    old.destroy();
  }

  /**
   * Runs `task` after the queued ones. A throw closes `peer`'s socket: the store being
   * unavailable (checking the write rule reads it) with 4503, anything else is logged and
   * closed with 1011 `internal`; the client resyncs either way when it reconnects.
   */
  private enqueue(peer: Peer, task: () => Promise<void>): void {
    this.queue = this.queue.then(task).catch((err: unknown) => {
      try {
        if (isParleyError(err) && err.code === 'unavailable') return this.cutOff(peer, CLOSE.tryAgainLater, 'unavailable');
        this.deps.onError(err);
        this.deps.onRefused('internal');
        this.cutOff(peer, 1011, 'internal');
      } catch {
        // the queue must never reject: later tasks would be skipped
      }
    });
  }

  private broadcast(frame: Uint8Array, except: WebSocket | null): void {
    for (const peer of [...this.peers.values()]) if (peer.socket !== except) this.send(peer, frame);
  }

  /**
   * Sends unless the socket's unread bytes are past the bound: then it is closed as a slow
   * consumer (4504, transient). It resyncs with step 1/2 when it reconnects, so dropping
   * what it did not read loses nothing; the node holds at most the bound plus one frame.
   */
  private send(peer: Peer, frame: Uint8Array): void {
    const socket = peer.socket;
    if (socket.readyState !== socket.OPEN) return;
    if (socket.bufferedAmount > this.deps.sendBufferBytes) {
      this.deps.onRefused('slow_consumer');
      this.cutOff(peer, CLOSE.slowConsumer, 'limit_exceeded');
      return;
    }
    try {
      socket.send(frame);
    } catch (err) {
      this.deps.onError(err);
      this.cutOff(peer, 1011, 'internal');
    }
  }

  private deny(peer: Peer, code: ErrorCode, message?: string): void {
    const body: ErrorBody = new ParleyError(code, message).toBody();
    this.send(peer, writeDeniedFrame(body));
  }

  /** Forgets the socket and closes it with `code` (the reason is an error code). */
  private cutOff(peer: Peer, code: number, reason: string): void {
    this.leave(peer.socket);
    try {
      peer.socket.close(code, reason);
    } catch {
      peer.socket.terminate();
    }
  }

  private readonly onAwareness = (
    { added, updated, removed }: { added: number[]; updated: number[]; removed: number[] },
    _origin: unknown,
  ): void => {
    // Also runs from Awareness' own timer (expired states): it must not throw.
    try {
      const frame = writeAwarenessFrame(this.awareness, [...added, ...updated, ...removed]);
      for (const peer of [...this.peers.values()]) this.send(peer, frame);
    } catch (err) {
      this.deps.onError(err);
    }
  };
}

/** Throws when the bytes are not a Yjs update. */
function isEmptyUpdate(update: Uint8Array): boolean {
  // The smallest update, "no structs, no deletes", is two zero bytes.
  if (update.length <= 2) return true;
  const decoded = Y.decodeUpdate(update);
  return decoded.structs.length === 0 && decoded.ds.clients.size === 0;
}

/** True when applying `update` would change `doc` (new items or new deletions). */
function addsTo(doc: Y.Doc, update: Uint8Array): boolean {
  try {
    const diff = Y.decodeUpdate(Y.diffUpdate(update, Y.encodeStateVector(doc)));
    if (diff.structs.length > 0) return true;
    if (diff.ds.clients.size === 0) return false;
    const scratch = new Y.Doc();
    Y.applyUpdate(scratch, Y.encodeStateAsUpdate(doc));
    let changed = false;
    scratch.on('update', () => (changed = true));
    Y.applyUpdate(scratch, update);
    scratch.destroy();
    return changed;
  } catch {
    return true;
  }
}
