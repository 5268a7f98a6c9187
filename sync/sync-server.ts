/**
 * The sync endpoint: `GET /v1/sync/:docName` upgraded to a WebSocket, one document per
 * socket (as y-websocket expects), speaking y-protocols (see wire.ts).
 *
 * A socket authenticates at the upgrade (`Authorization: Bearer …`, or `?token=…` for
 * browsers; the node reads and verifies it, SyncHost.authenticateUpgrade), then must be allowed to read the document; otherwise it is closed with 4401
 * or 4403. Documents are loaded on demand from the read model (snapshot + later updates)
 * and unloaded when their last socket goes. Every node applies the document events of its
 * store feed to the documents it holds, so sockets on different nodes see each other.
 *
 * No input reaches a path that can end the process: the message and close handlers, the
 * open sequence, the feed consumer and the unload all end in a catch that logs and, where
 * a socket is concerned, closes it with a coded reason (1011 `internal`). Frames are copied
 * out of the receive buffer (lib0 reads a declared length from the underlying buffer, which
 * can hold more than the frame), and what a socket can make the node hold is bounded
 * (limits.ts, document-room.ts).
 */
import { randomUUID } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { Counter, Gauge } from 'prom-client';
import type { WebSocket } from 'ws';
import { toNewEvents, type ConversationState } from '../engine/domain/index.js';
import { conversationIdOf, isStoreUnavailableError, LogCursor, partitionsOf, userStream } from '../engine/store/index.js';
import { CLOSE, ParleyError, parseDocName, type DocRef, type ErrorCode } from '../protocol/index.js';
import { loadDocument } from './document-log.js';
import { DocumentRoom } from './document-room.js';
import { newPeer, type Peer, type Refusal } from './peer.js';
import { SYNC_LIMITS, type SyncLimits } from './limits/index.js';
import { PendingLedger } from './pending-updates.js';
import { asKnown, type EventOf } from '../projections/index.js';
import type { StoredEvent, SyncHost } from './engine-types.js';
import { documentEvent, docNameOfEvent, updateOf } from './events.js';
import { writeRefusal, readRefusal } from './write-rule.js';

export interface SyncOptions {
  /** Route prefix; a document is at `${path}/${docName}` (default `/v1/sync`). */
  path?: string;
  /** Fold a document's updates into a snapshot every this many (default 100). */
  snapshotEvery?: number;
  /** Largest plain text of a notes document, in UTF-8 bytes (default 256 KiB). */
  maxNotesBytes?: number;
  /** Bounds per user, document and socket; default: the node's `syncLimits` (limits.ts). */
  limits?: Partial<SyncLimits>;
}

/** Frames a socket may send before its document is open (y-websocket sends two or three). */
const EARLY_FRAMES = 32;


export class SyncServer {
  private readonly rooms = new Map<string, DocumentRoom>();
  private readonly sockets = new Set<WebSocket>();
  private readonly stopFeed: () => void;
  /** Per partition, the newest position this layer appended outside the command handler (drafts) or saw in the feed: loads wait for it. */
  private seen: LogCursor;
  private readonly updates: Counter<'kind' | 'outcome'>;
  private readonly refused: Counter<'reason'>;
  private readonly loaded: Gauge;
  private readonly limits: SyncLimits;
  private readonly pendingByUser: PendingLedger;
  /** Open sync sockets per user (bounded by the node's maxSocketsPerUser). */
  private readonly socketsByUser = new Map<string, number>();

  constructor(
    private readonly ctx: SyncHost,
    private readonly options: SyncOptions = {},
  ) {
    this.seen = LogCursor.start(partitionsOf(ctx.store));
    const registers = [ctx.metrics.registry];
    this.updates = new Counter({
      name: 'parley_sync_updates_total',
      help: 'Document updates received, by document kind and outcome (ok, noop, or an error code)',
      labelNames: ['kind', 'outcome'],
      registers,
    });
    this.loaded = new Gauge({ name: 'parley_sync_documents_loaded', help: 'Yjs documents held in memory', registers });
    this.refused = new Counter({
      name: 'parley_sync_refused_total',
      help: 'Sync frames refused or sockets cut off at a bound, by reason (pending_limit, queue_limit, early_limit, socket_limit, slow_consumer, awareness_*, internal)',
      labelNames: ['reason'],
      registers,
    });
    const rooms = this.rooms;
    new Gauge({
      name: 'parley_sync_pending_bytes',
      help: 'Bytes of Yjs updates held waiting for missing dependencies, all documents',
      registers,
      collect() {
        let bytes = 0;
        for (const room of rooms.values()) bytes += room.pendingHeld.bytes;
        this.set(bytes);
      },
    });
    this.limits = { ...SYNC_LIMITS, ...ctx.config.syncLimits, ...options.limits };
    this.pendingByUser = new PendingLedger({ bytes: this.limits.pendingBytesPerUser, updates: this.limits.pendingUpdatesPerUser });
    this.stopFeed = ctx.store.subscribe((events) => this.onFeed(events));
  }

  register(): void {
    const path = `${this.options.path ?? '/v1/sync'}/:docName`;
    this.ctx.app.get(path, { websocket: true, schema: { hide: true } as object }, (socket, request) =>
      this.connect(socket as unknown as WebSocket, request),
    );
  }

  /** Names of the documents held in memory. */
  loadedDocuments(): string[] {
    return [...this.rooms.keys()];
  }

  async close(): Promise<void> {
    this.stopFeed();
    for (const s of this.sockets) s.close(CLOSE.tryAgainLater, 'node shutting down');
    for (const room of this.rooms.values()) await room.drained();
    for (const room of this.rooms.values()) room.destroy();
    this.rooms.clear();
    this.loaded.set(0);
  }

  private connect(socket: WebSocket, request: FastifyRequest): void {
    // Frames that arrive while we authorize and load wait here, in order (bounded).
    const early: Uint8Array[] = [];
    let earlyBytes = 0;
    let peer: Peer | null = null;
    let room: DocumentRoom | null = null;
    let counted = false;
    // Set once the token is verified; frames before that wait in `early` (bounded).
    let userId: string | null = null;
    let limiter: { take(): boolean } | null = null;
    const name = (request.params as { docName?: string }).docName ?? '';
    /** The last resort of every handler: log, close with a coded reason, never throw. */
    const fail = (err: unknown, what: string) => {
      try {
        request.log.error({ err, doc: name }, `sync: ${what}`);
        this.refused.inc({ reason: 'internal' });
        if (room) room.leave(socket);
        socket.close(1011, 'internal');
      } catch {
        socket.terminate();
      }
    };
    socket.on('message', (data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean) => {
      try {
        if (limiter && !limiter.take()) {
          // Transient close: the client reconnects with backoff and its sync step 1/2 sends
          // whatever this socket dropped, so a flood costs the flooder time, not data.
          if (room) room.leave(socket);
          socket.close(CLOSE.tryAgainLater, 'rate_limited');
          return;
        }
        if (!isBinary) return; // y-protocols is binary; text frames mean nothing here
        const bytes = toBytes(data);
        if (peer && room) return room.receive(peer, bytes);
        earlyBytes += bytes.byteLength;
        if (early.length >= EARLY_FRAMES || earlyBytes > this.limits.queuedBytesPerSocket) {
          this.refused.inc({ reason: 'early_limit' });
          early.length = 0;
          socket.close(CLOSE.tryAgainLater, 'limit_exceeded');
          return;
        }
        early.push(bytes);
      } catch (err) {
        fail(err, 'frame handler failed');
      }
    });
    this.sockets.add(socket);
    socket.on('close', () => {
      try {
        this.sockets.delete(socket);
        early.length = 0;
        if (counted && userId) this.userSocketClosed(userId);
        if (room) {
          room.leave(socket);
          this.release(room);
        }
      } catch (err) {
        request.log.error({ err, doc: name }, 'sync: close handler failed');
      }
    });

    void (async () => {
      // Keys the node cannot fetch reject with `unavailable`: the catch below closes 4503.
      const caller = await this.ctx.authenticateUpgrade(request);
      if (socket.readyState !== socket.OPEN) return;
      if (!caller) return socket.close(CLOSE.unauthorized, 'unauthorized');
      userId = caller.sub;
      limiter = this.ctx.connectionLimiter(userId);
      // One user's sockets are bounded (each holds a document, queued frames, awareness) and
      // each one opened takes from their rate, like a frame: a token is not a licence for
      // thousands of sockets or an open/close loop.
      if ((this.socketsByUser.get(userId) ?? 0) >= this.ctx.config.maxSocketsPerUser) {
        this.refused.inc({ reason: 'socket_limit' });
        return socket.close(CLOSE.tryAgainLater, 'limit_exceeded');
      }
      if (!limiter.take()) return socket.close(CLOSE.tryAgainLater, 'rate_limited');
      this.socketsByUser.set(userId, (this.socketsByUser.get(userId) ?? 0) + 1);
      counted = true;
      const ref = parseDocName(name);
      if (!ref) return socket.close(CLOSE.forbidden, 'invalid_request');
      const refusal = await this.refusal(ref, userId, 'read');
      if (refusal) return socket.close(CLOSE.forbidden, refusal);
      if (socket.readyState !== socket.OPEN) return;
      const r = this.acquire(name, ref);
      try {
        await r.ready;
      } finally {
        r.joining--;
        if (socket.readyState !== socket.OPEN || r.failed) this.release(r);
      }
      if (socket.readyState !== socket.OPEN) return;
      room = r;
      peer = newPeer(socket, userId);
      r.join(peer);
      for (const bytes of early.splice(0)) r.receive(peer, bytes);
    })().catch((err: unknown) => {
      try {
        const unavailable = err instanceof ParleyError && err.code === 'unavailable';
        if (!unavailable) request.log.error({ err, doc: name }, 'sync: could not open document');
        socket.close(unavailable ? CLOSE.tryAgainLater : 1011, err instanceof ParleyError ? err.code : 'internal');
      } catch {
        socket.terminate();
      }
    });
  }

  private userSocketClosed(userId: string): void {
    const n = (this.socketsByUser.get(userId) ?? 1) - 1;
    if (n > 0) this.socketsByUser.set(userId, n);
    else this.socketsByUser.delete(userId);
  }

  private acquire(name: string, ref: DocRef): DocumentRoom {
    let room = this.rooms.get(name);
    if (!room || room.failed) {
      room = new DocumentRoom({
        name,
        ref,
        load: () => this.load(name),
        writeRefusal: (userId) => this.refusal(ref, userId, 'write'),
        append: (userId, update, text) => this.append(ref, userId, update, text),
        maxTextBytes: ref.kind === 'notes' ? (this.options.maxNotesBytes ?? 256 * 1024) : this.ctx.config.maxTextBytes,
        limits: this.limits,
        sendBufferBytes: this.ctx.config.maxSendBufferBytes,
        pendingByUser: this.pendingByUser,
        onWrite: (outcome) => this.updates.inc({ kind: ref.kind, outcome }),
        onRefused: (reason: Refusal, count = 1) => this.refused.inc({ reason }, count),
        onError: (err) => this.ctx.app.log.error({ err, doc: name }, 'sync: document error'),
      });
      this.rooms.set(name, room);
      this.loaded.set(this.rooms.size);
    }
    room.joining++;
    return room;
  }

  /** Unloads the room once nobody holds it and its queued writes are done. */
  private release(room: DocumentRoom): void {
    if (!room.idle) return;
    room
      .drained()
      .then(() => {
        if (!room.idle || this.rooms.get(room.name) !== room) return;
        this.rooms.delete(room.name);
        room.destroy();
        this.loaded.set(this.rooms.size);
      })
      .catch((err: unknown) => this.ctx.app.log.error({ err, doc: room.name }, 'sync: could not unload document'));
  }

  private async load(name: string) {
    await Promise.all([this.ctx.runner.waitForCursor(this.ctx.commands.written), this.ctx.runner.waitForCursor(this.seen)]);
    return (await loadDocument(this.ctx.readModels, this.ctx.store, name)).doc;
  }

  /** Checks the document's one rule for `userId`, against the conversation's decider state (signaling admits to a topic by its write rule). */
  async refusal(ref: DocRef, userId: string, access: 'read' | 'write'): Promise<ErrorCode | null> {
    const state = ref.kind === 'draft' ? null : await this.conversationState(ref.conversationId);
    return access === 'read' ? readRefusal(ref, userId, state) : writeRefusal(ref, userId, state);
  }

  /** The conversation's decider state, from the command handler (cached, caught up from the log). */
  private async conversationState(conversationId: string): Promise<Readonly<ConversationState>> {
    try {
      return await this.ctx.commands.stateOf(conversationId);
    } catch (err) {
      if (isStoreUnavailableError(err)) throw new ParleyError('unavailable', undefined, { cause: err });
      throw err;
    }
  }

  private async append(ref: DocRef, userId: string, update: Uint8Array, text: string): Promise<void> {
    const commandId = `sync-${randomUUID()}`;
    const event = documentEvent(ref, update, text);
    if (ref.kind !== 'draft') {
      await this.ctx.commands.applyToConversation(ref.conversationId, { actor: userId, commandId }, (state) => {
        const refusal = writeRefusal(ref, userId, state);
        if (refusal) throw new ParleyError(refusal);
        return [event];
      });
      return;
    }
    if (ref.userId !== userId) throw new ParleyError('forbidden');
    try {
      const appended = await this.ctx.store.append(userStream(userId), toNewEvents([event], { actor: userId, commandId }), {
        expectedVersion: 'any',
      });
      this.seen = this.seen.advancedBy(appended.events);
    } catch (err) {
      if (isStoreUnavailableError(err)) throw new ParleyError('unavailable', undefined, { cause: err });
      throw err;
    }
  }

  private onFeed(events: StoredEvent[]): void {
    // A document loaded after this includes these events (the read models are applied off
    // this thread, a little after the feed: `load` waits for them), whichever node wrote them.
    this.seen = this.seen.advancedBy(events);
    for (const e of events) {
      try {
        const name = docNameOfEvent(e);
        if (name) {
          this.rooms.get(name)?.applyDurable(updateOf(e));
          continue;
        }
        const known = asKnown(e);
        if (known.type === 'MemberLeft' || known.type === 'MessageDeleted') this.authorityChanged(known);
        else if (known.type === 'MessageErased') this.closeBodies(e.stream, (messageId) => messageId === known.data.messageId);
        else if (known.type === 'MessagesExpired') this.closeExpired(e.stream, known.data.throughSeq);
      } catch (err) {
        this.ctx.app.log.error({ err, position: e.position }, 'sync: could not apply an event of the feed');
      }
    }
  }

  /** Bodies of erased or expired messages (retention): closed to edits and no longer served. */
  private closeBodies(stream: string, erased: (messageId: string) => boolean): void {
    const conversationId = conversationIdOf(stream);
    if (!conversationId) return;
    for (const room of this.rooms.values()) {
      const ref = room.ref;
      if (ref.kind === 'message' && ref.conversationId === conversationId && erased(ref.messageId)) room.revoke(null, CLOSE.forbidden, 'message_erased');
    }
  }

  /** Which open bodies a MessagesExpired covers, from the decider state (their posts' seqs). */
  private closeExpired(stream: string, throughSeq: number): void {
    const conversationId = conversationIdOf(stream);
    if (!conversationId) return;
    const open = [...this.rooms.values()].some((r) => r.ref.kind === 'message' && r.ref.conversationId === conversationId);
    if (!open) return;
    this.conversationState(conversationId).then(
      (state) => this.closeBodies(stream, (messageId) => (state.messages.get(messageId)?.seq ?? Infinity) <= throughSeq),
      (err) => this.ctx.app.log.error({ err, conversationId }, 'sync: could not close expired message bodies'),
    );
  }

  /** A member who left loses the conversation's documents; a deleted message loses its body. */
  private authorityChanged(e: EventOf<'MemberLeft' | 'MessageDeleted'>): void {
    const conversationId = conversationIdOf(e.stream);
    if (!conversationId) return;
    for (const room of this.rooms.values()) {
      const ref = room.ref;
      if (ref.kind === 'draft' || ref.conversationId !== conversationId) continue;
      if (e.type === 'MemberLeft') room.revoke(e.data.userId, CLOSE.forbidden, 'forbidden');
      else if (ref.kind === 'message' && ref.messageId === e.data.messageId) room.revoke(null, CLOSE.forbidden, 'message_deleted');
    }
  }
}

/**
 * The frame in a buffer of its own. `ws` may hand out a view into a larger receive buffer;
 * lib0 reads a declared length from the underlying ArrayBuffer, so a length past the frame
 * would read neighbouring bytes instead of failing.
 */
function toBytes(data: Buffer | ArrayBuffer | Buffer[]): Uint8Array {
  if (data instanceof ArrayBuffer) return new Uint8Array(data.slice(0));
  if (Array.isArray(data)) {
    const out = new Uint8Array(data.reduce((n, b) => n + b.byteLength, 0));
    let at = 0;
    for (const b of data) {
      out.set(b, at);
      at += b.byteLength;
    }
    return out;
  }
  return new Uint8Array(data);
}
