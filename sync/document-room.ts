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
 * (room-pending.ts); frames queued for writing; awareness ids and states
 * (room-awareness.ts); bytes queued to a socket that does not read (room-output.ts). Past
 * a bound the socket is told why (`limit_exceeded`) and closed with a transient code, so
 * it resyncs with step 1/2 when it reconnects and nothing acknowledged is lost. Every path
 * in here that runs outside a caller's try (queued writes, Yjs and awareness events, the
 * awareness timer) catches, logs and closes the socket concerned.
 */
import type { WebSocket } from 'ws';
import * as Y from 'yjs';
import { CLOSE, ParleyError, isParleyError, type DocRef, type ErrorCode } from '../protocol/index.js';
import { TEXT_NAME } from '../protocol/yjs/index.js';
import type { SyncLimits } from './limits/index.js';
import type { Peer, Refusal } from './peer.js';
import type { PendingLedger } from './pending-updates.js';
import { RoomAwareness } from './room-awareness.js';
import { RoomOutput } from './room-output.js';
import { RoomPending, type Held } from './room-pending.js';
import { addsTo, isEmptyUpdate } from './update-effects.js';
import { SYNC_STEP1, SYNC_STEP2, SYNC_UPDATE, readFrame, writeSyncFrame } from './wire.js';

export type WriteOutcome = 'ok' | 'noop' | ErrorCode;

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
  private readonly output: RoomOutput;
  private readonly awareness: RoomAwareness;
  private readonly pending: RoomPending;
  private queue: Promise<void> = Promise.resolve();
  /** What a write being applied integrated (the doc's updates with origin WRITING). */
  private captured: Uint8Array[] | null = null;
  /** Durable updates from the feed that came before the document was loaded. */
  private early: Uint8Array[] = [];
  private closed = false;

  constructor(private readonly deps: RoomDeps) {
    const { onRefused, onError } = deps;
    this.output = new RoomOutput({ sendBufferBytes: deps.sendBufferBytes, onRefused, onError, leave: (socket) => this.leave(socket) });
    this.awareness = new RoomAwareness({ limits: deps.limits, output: this.output, peers: () => this.peers.values(), onRefused, onError });
    this.pending = new RoomPending(deps.limits, deps.pendingByUser);
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
  get pendingHeld(): Held {
    return this.pending.held;
  }

  /** Adds a socket that may read the document and opens the sync (server's step 1 first). */
  join(peer: Peer): void {
    this.peers.set(peer.socket, peer);
    this.enqueue(peer, async () => {
      this.output.send(peer, writeSyncFrame(SYNC_STEP1, Y.encodeStateVector(this.doc!)));
      const states = this.awareness.statesFrame();
      if (states) this.output.send(peer, states);
    });
  }

  /** Forgets a socket: drops what it set aside and removes its awareness states (broadcast). */
  leave(socket: WebSocket): void {
    const peer = this.peers.get(socket);
    if (!peer) return;
    this.peers.delete(socket);
    this.pending.forget(peer);
    this.awareness.release(peer);
  }

  /** An update that is already in the log (from the feed): apply it and forward what is new. */
  applyDurable(update: Uint8Array): void {
    if (!this.doc) {
      this.early.push(update);
      return;
    }
    try {
      Y.applyUpdate(this.doc, update, DURABLE);
      this.pending.setAsideDurable(this.doc);
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
      const frame = readFrame(data);
      switch (frame.type) {
        case 'step1': {
          const stateVector = frame.stateVector;
          if (!this.admit(peer, stateVector.byteLength)) return;
          // Only what the peer lacks: the diff against its state vector.
          this.enqueue(peer, async () => {
            peer.queuedBytes -= stateVector.byteLength;
            this.output.send(peer, writeSyncFrame(SYNC_STEP2, Y.encodeStateAsUpdate(this.doc!, stateVector)));
          });
          break;
        }
        case 'update': {
          const update = frame.update;
          if (!this.admit(peer, update.byteLength)) return;
          this.enqueue(peer, () => {
            peer.queuedBytes -= update.byteLength;
            return this.write(peer, update);
          });
          break;
        }
        case 'awareness':
          this.awareness.receive(peer, frame.update);
          break;
        case 'query-awareness':
          this.awareness.answerQuery(peer);
          break;
        case 'auth':
          break;
        case 'unknown':
          this.output.deny(peer, 'invalid_request', frame.message);
          break;
        default:
          frame satisfies never;
      }
    } catch {
      this.output.deny(peer, 'invalid_request', 'Malformed y-protocols frame');
    }
  }

  /** Closes every socket of `userId` (they lost the right to read). */
  revoke(userId: string | null, code: number, reason: string): void {
    for (const peer of [...this.peers.values()]) {
      if (userId === null || peer.userId === userId) this.output.cutOff(peer, code, reason);
    }
  }

  /** Resolves once queued writes have finished (never rejects). */
  drained(): Promise<void> {
    return this.queue;
  }

  destroy(): void {
    this.closed = true;
    this.pending.dropAll();
    this.awareness.destroy();
    this.doc?.destroy();
  }

  /** Counts a frame against the socket's write queue; false (and the socket cut off) past it. */
  private admit(peer: Peer, bytes: number): boolean {
    if (peer.queuedBytes + bytes <= this.deps.limits.queuedBytesPerSocket) {
      peer.queuedBytes += bytes;
      return true;
    }
    this.deps.onRefused('queue_limit');
    this.output.deny(peer, 'limit_exceeded', `More than ${this.deps.limits.queuedBytesPerSocket} bytes of updates are waiting to be written`);
    this.output.cutOff(peer, CLOSE.tryAgainLater, 'limit_exceeded');
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
        return this.output.deny(peer, 'invalid_request', 'The update could not be decoded');
      }
      if (empty) return;
    } else if (peer.pending.empty) {
      return;
    }
    const refusal = await this.deps.writeRefusal(peer.userId);
    if (this.closed || !this.peers.has(peer.socket)) return;
    if (refusal) {
      this.pending.drop(peer);
      // A reader's step 2 carries the delete set it received from us: not a write.
      if (update && !addsTo(this.doc!, update)) return;
      this.deps.onWrite(refusal);
      return this.output.deny(peer, refusal);
    }
    // Synchronous from applying to reading the text to append: nothing else moves the doc meanwhile.
    const integrated = this.integrate(peer, update);
    if (integrated === 'unappliable') {
      await this.reload();
      this.deps.onWrite('invalid_request');
      return this.output.deny(peer, 'invalid_request', 'The update could not be applied');
    }
    if (integrated === null) {
      this.afterChange(peer);
      return this.deps.onWrite('noop');
    }
    await this.persist(peer, integrated);
  }

  /**
   * Applies `update` (and what `peer` set aside that may integrate now) to the document.
   * Returns what integrated as one update, null when nothing did, 'unappliable' when Yjs
   * threw (what the peer set aside is dropped; the document must be reloaded).
   */
  private integrate(peer: Peer, update: Uint8Array | null): Uint8Array | null | 'unappliable' {
    const doc = this.doc!;
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
      for (let round = 0; round < 4 && (retry || this.pending.takeWoken(peer)); round++) {
        retry = false;
        const held = peer.pending.drain();
        if (!held) break;
        Y.applyUpdateV2(doc, held, WRITING);
        peer.pending.setAside(doc);
      }
    } catch {
      this.captured = null;
      this.pending.account(peer, before);
      this.pending.drop(peer);
      return 'unappliable';
    }
    const captured = this.captured;
    this.captured = null;
    if (!this.pending.account(peer, before)) {
      // Past a bound: what this peer set aside is dropped (account did); what integrated
      // is still appended, and the socket resyncs when it reconnects.
      this.deps.onRefused('pending_limit');
      this.output.deny(peer, 'limit_exceeded', 'Too many updates are waiting for changes this document does not have');
      this.output.cutOff(peer, CLOSE.tryAgainLater, 'limit_exceeded');
    }
    if (captured.length === 0) return null;
    return captured.length === 1 ? captured[0]! : Y.mergeUpdates(captured);
  }

  /** Appends what integrated and, once durable, forwards it; on failure reloads from the log. */
  private async persist(peer: Peer, integrated: Uint8Array): Promise<void> {
    const text = this.doc!.getText(TEXT_NAME).toString();
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
      return this.output.deny(peer, e.code, e.message);
    }
    this.deps.onWrite('ok');
    this.output.broadcast(this.peers.values(), writeSyncFrame(SYNC_UPDATE, integrated), peer.socket);
    this.afterChange(peer);
  }

  /** After the document moved: durable updates and other peers' pending ones may integrate. */
  private afterChange(writer: Peer): void {
    this.retryDurable();
    this.wakePeers(writer);
  }

  private retryDurable(): void {
    if (this.doc) this.pending.retryDurable(this.doc, DURABLE);
  }

  /** Queues a retry for every peer (but `except`, which retries in its own write) that woke. */
  private wakePeers(except: Peer | null): void {
    for (const peer of this.pending.takeWokenPeers(except)) this.enqueue(peer, () => this.write(peer, null));
  }

  private attach(doc: Y.Doc): void {
    doc.on('update', (update: Uint8Array, origin: unknown) => {
      if (origin === WRITING && this.captured) this.captured.push(update);
      else this.output.broadcast(this.peers.values(), writeSyncFrame(SYNC_UPDATE, update));
    });
    doc.on('afterTransaction', (tr: Y.Transaction) => this.pending.observe(tr));
    this.doc = doc;
    this.pending.startDurable(doc);
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
        if (isParleyError(err) && err.code === 'unavailable') return this.output.cutOff(peer, CLOSE.tryAgainLater, 'unavailable');
        this.deps.onError(err);
        this.deps.onRefused('internal');
        this.output.cutOff(peer, 1011, 'internal');
      } catch {
        // the queue must never reject: later tasks would be skipped
      }
    });
  }
}
