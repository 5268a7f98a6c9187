/**
 * One document loaded in memory, and the sockets that hold it.
 *
 * Writes are handled one at a time per document: check the write rule, apply the update,
 * keep what it integrated, append that as an event, and only once it is durable forward
 * it to the other sockets. If the append fails the document is reloaded from the log, so
 * memory never keeps what the log refused. Updates that other nodes (or other rooms of
 * this node) appended arrive from the store's feed and are applied and forwarded as they
 * come; applying an update twice changes nothing, so overlaps are harmless.
 */
import * as decoding from 'lib0/decoding';
import type { WebSocket } from 'ws';
import * as awarenessProtocol from 'y-protocols/awareness';
import * as Y from 'yjs';
import { ParleyError, isParleyError, type ErrorBody, type ErrorCode } from '../protocol/index.js';
import type { DocRef } from './doc-name.js';
import { TEXT_NAME } from './events.js';
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

export interface Peer {
  readonly socket: WebSocket;
  readonly userId: string;
  /** Awareness client ids this socket announced; removed when it goes. */
  readonly awarenessClients: Set<number>;
}

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
  onWrite(outcome: WriteOutcome): void;
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
  private queue: Promise<void> = Promise.resolve();
  private captured: Uint8Array[] | null = null;
  private early: Uint8Array[] = [];
  private closed = false;

  constructor(private readonly deps: RoomDeps) {
    this.awareness.setLocalState(null);
    this.awareness.on('update', this.onAwareness);
    this.ready = this.deps.load().then((doc) => this.attach(doc));
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

  /** The document could not be reloaded; the server replaces the room. */
  get failed(): boolean {
    return this.closed;
  }

  /** Adds a socket that may read the document and opens the sync (server's step 1 first). */
  join(peer: Peer): void {
    this.peers.set(peer.socket, peer);
    this.enqueue(async () => {
      send(peer, writeSyncFrame(SYNC_STEP1, Y.encodeStateVector(this.doc!)));
      const states = [...this.awareness.getStates().keys()];
      if (states.length > 0) send(peer, writeAwarenessFrame(this.awareness, states));
    });
  }

  leave(socket: WebSocket): void {
    const peer = this.peers.get(socket);
    if (!peer) return;
    this.peers.delete(socket);
    awarenessProtocol.removeAwarenessStates(this.awareness, [...peer.awarenessClients], null);
  }

  /** An update that is already in the log (from the feed): apply it and forward what is new. */
  applyDurable(update: Uint8Array): void {
    if (!this.doc) {
      this.early.push(update);
      return;
    }
    try {
      Y.applyUpdate(this.doc, update, DURABLE);
    } catch (err) {
      this.deps.onError(err);
    }
  }

  /** Handles one binary frame from a peer. */
  receive(peer: Peer, data: Uint8Array): void {
    try {
      const decoder = decoding.createDecoder(data);
      const type = decoding.readVarUint(decoder);
      switch (type) {
        case MESSAGE_SYNC: {
          const syncType = decoding.readVarUint(decoder);
          const bytes = decoding.readVarUint8Array(decoder);
          if (syncType === SYNC_STEP1) {
            // Only what the peer lacks: the diff against its state vector.
            this.enqueue(async () => send(peer, writeSyncFrame(SYNC_STEP2, Y.encodeStateAsUpdate(this.doc!, bytes))));
          } else if (syncType === SYNC_STEP2 || syncType === SYNC_UPDATE) {
            this.enqueue(() => this.write(peer, bytes));
          } else {
            deny(peer, 'invalid_request', 'Unknown sync message type');
          }
          break;
        }
        case MESSAGE_AWARENESS:
          awarenessProtocol.applyAwarenessUpdate(this.awareness, decoding.readVarUint8Array(decoder), peer);
          break;
        case MESSAGE_QUERY_AWARENESS:
          send(peer, writeAwarenessFrame(this.awareness, [...this.awareness.getStates().keys()]));
          break;
        case MESSAGE_AUTH:
          break;
        default:
          deny(peer, 'invalid_request', 'Unknown message type');
      }
    } catch {
      deny(peer, 'invalid_request', 'Malformed y-protocols frame');
    }
  }

  /** Closes every socket of `userId` (they lost the right to read). */
  revoke(userId: string | null, code: number, reason: string): void {
    for (const peer of [...this.peers.values()]) {
      if (userId === null || peer.userId === userId) {
        this.leave(peer.socket);
        peer.socket.close(code, reason);
      }
    }
  }

  /** Resolves once queued writes have finished. */
  drained(): Promise<void> {
    return this.queue;
  }

  destroy(): void {
    this.closed = true;
    this.awareness.off('update', this.onAwareness);
    this.awareness.doc.destroy();
    this.awareness.destroy();
    this.doc?.destroy();
  }

  private async write(peer: Peer, update: Uint8Array): Promise<void> {
    if (this.closed || !this.peers.has(peer.socket)) return;
    let empty: boolean;
    try {
      empty = isEmptyUpdate(update);
    } catch {
      this.deps.onWrite('invalid_request');
      return deny(peer, 'invalid_request', 'The update could not be decoded');
    }
    if (empty) return;
    const doc = this.doc!;
    const refusal = await this.deps.writeRefusal(peer.userId);
    if (refusal) {
      // A reader's step 2 carries the delete set it received from us: not a write.
      if (!addsTo(doc, update)) return;
      this.deps.onWrite(refusal);
      return deny(peer, refusal);
    }
    this.captured = [];
    try {
      Y.applyUpdate(doc, update, WRITING);
    } catch {
      this.captured = null;
      await this.reload();
      this.deps.onWrite('invalid_request');
      return deny(peer, 'invalid_request', 'The update could not be applied');
    }
    const captured = this.captured;
    this.captured = null;
    if (captured.length === 0) return this.deps.onWrite('noop');
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
      return deny(peer, e.code, e.message);
    }
    this.deps.onWrite('ok');
    this.broadcast(writeSyncFrame(SYNC_UPDATE, integrated), peer.socket);
  }

  private attach(doc: Y.Doc): void {
    doc.on('update', (update: Uint8Array, origin: unknown) => {
      if (origin === WRITING && this.captured) this.captured.push(update);
      else this.broadcast(writeSyncFrame(SYNC_UPDATE, update), null);
    });
    this.doc = doc;
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

  private enqueue(task: () => Promise<void>): void {
    this.queue = this.queue.then(task).catch((err) => this.deps.onError(err));
  }

  private broadcast(frame: Uint8Array, except: WebSocket | null): void {
    for (const peer of this.peers.values()) if (peer.socket !== except) send(peer, frame);
  }

  private readonly onAwareness = (
    { added, updated, removed }: { added: number[]; updated: number[]; removed: number[] },
    origin: unknown,
  ): void => {
    const from = origin as Peer | null;
    if (from && this.peers.has(from.socket)) {
      for (const id of [...added, ...updated]) from.awarenessClients.add(id);
      for (const id of removed) from.awarenessClients.delete(id);
    }
    const frame = writeAwarenessFrame(this.awareness, [...added, ...updated, ...removed]);
    for (const peer of this.peers.values()) send(peer, frame);
  };
}

function send(peer: Peer, frame: Uint8Array): void {
  if (peer.socket.readyState === peer.socket.OPEN) peer.socket.send(frame);
}

function deny(peer: Peer, code: ErrorCode, message?: string): void {
  const body: ErrorBody = new ParleyError(code, message).toBody();
  send(peer, writeDeniedFrame(body));
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
