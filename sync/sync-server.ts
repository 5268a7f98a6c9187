/**
 * The sync endpoint: `GET /v1/sync/:docName` upgraded to a WebSocket, one document per
 * socket (as y-websocket expects), speaking y-protocols (see wire.ts).
 *
 * A socket authenticates at the upgrade (`Authorization: Bearer …`, or `?token=…` for
 * browsers), then must be allowed to read the document; otherwise it is closed with 4401
 * or 4403. Documents are loaded on demand from the read model (snapshot + later updates)
 * and unloaded when their last socket goes. Every node applies the document events of its
 * store feed to the documents it holds, so sockets on different nodes see each other.
 */
import { randomUUID } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { Counter, Gauge } from 'prom-client';
import type { WebSocket } from 'ws';
import { toNewEvents, type ConversationState } from '../engine/domain/index.js';
import { conversationIdOf, isStoreUnavailableError, userStream } from '../engine/store/index.js';
import { CLOSE, ParleyError, type ErrorCode } from '../protocol/index.js';
import { parseDocName, type DocRef } from './doc-name.js';
import { loadDocument } from './document-log.js';
import { DocumentRoom, type Peer } from './document-room.js';
import type { NodeContext, StoredEvent } from './engine-types.js';
import { documentEvent, docNameOfEvent, updateOf } from './events.js';
import { writeRefusal, readRefusal } from './write-rule.js';

export interface SyncOptions {
  /** Route prefix; a document is at `${path}/${docName}` (default `/v1/sync`). */
  path?: string;
  /** Fold a document's updates into a snapshot every this many (default 100). */
  snapshotEvery?: number;
  /** Largest plain text of a notes document, in UTF-8 bytes (default 256 KiB). */
  maxNotesBytes?: number;
}


export class SyncServer {
  private readonly rooms = new Map<string, DocumentRoom>();
  private readonly sockets = new Set<WebSocket>();
  private readonly stopFeed: () => void;
  /** Newest position this layer appended outside the command handler (drafts). */
  private lastPosition = 0;
  private readonly updates: Counter<'kind' | 'outcome'>;
  private readonly loaded: Gauge;

  constructor(
    private readonly ctx: NodeContext,
    private readonly options: SyncOptions = {},
  ) {
    const registers = [ctx.metrics.registry];
    this.updates = new Counter({
      name: 'parley_sync_updates_total',
      help: 'Document updates received, by document kind and outcome (ok, noop, or an error code)',
      labelNames: ['kind', 'outcome'],
      registers,
    });
    this.loaded = new Gauge({ name: 'parley_sync_documents_loaded', help: 'Yjs documents held in memory', registers });
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
    // Frames that arrive while we authorize and load wait here, in order.
    const early: Uint8Array[] = [];
    let peer: Peer | null = null;
    let room: DocumentRoom | null = null;
    const userId = this.authenticate(request);
    const limiter = userId ? this.ctx.connectionLimiter(userId) : null;
    socket.on('message', (data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean) => {
      if (!isBinary) return; // y-protocols is binary; text frames mean nothing here
      if (limiter && !limiter.take()) {
        // Transient close: the client reconnects with backoff and its sync step 1/2 sends
        // whatever this socket dropped, so a flood costs the flooder time, not data.
        socket.close(CLOSE.tryAgainLater, 'rate_limited');
        return;
      }
      const bytes = toBytes(data);
      if (peer && room) room.receive(peer, bytes);
      else early.push(bytes);
    });
    this.sockets.add(socket);
    socket.on('close', () => {
      this.sockets.delete(socket);
      if (room) {
        room.leave(socket);
        this.release(room);
      }
    });

    if (!userId) return socket.close(CLOSE.unauthorized, 'unauthorized');
    const name = (request.params as { docName?: string }).docName ?? '';
    const ref = parseDocName(name);
    if (!ref) return socket.close(CLOSE.forbidden, 'invalid_request');

    void (async () => {
      const refusal = await this.refusal(ref, userId, 'read');
      if (refusal) return socket.close(CLOSE.forbidden, refusal);
      if (socket.readyState !== socket.OPEN) return;
      const r = this.acquire(name, ref);
      try {
        await r.ready;
      } finally {
        r.joining--;
      }
      if (socket.readyState !== socket.OPEN) return this.release(r);
      room = r;
      peer = { socket, userId, awarenessClients: new Set() };
      r.join(peer);
      for (const bytes of early.splice(0)) r.receive(peer, bytes);
    })().catch((err) => {
      const code = err instanceof ParleyError && err.code === 'unavailable' ? CLOSE.tryAgainLater : 1011;
      if (code === 1011) request.log.error({ err, doc: name }, 'sync: could not open document');
      socket.close(code, err instanceof ParleyError ? err.code : 'internal');
    });
  }

  private authenticate(request: FastifyRequest): string | null {
    const header = request.headers.authorization;
    const token = header?.startsWith('Bearer ') ? header.slice(7) : (request.query as { token?: string }).token;
    return token ? (this.ctx.verifyToken(token)?.sub ?? null) : null;
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
        onWrite: (outcome) => this.updates.inc({ kind: ref.kind, outcome }),
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
    void room.drained().then(() => {
      if (!room.idle || this.rooms.get(room.name) !== room) return;
      this.rooms.delete(room.name);
      room.destroy();
      this.loaded.set(this.rooms.size);
    });
  }

  private async load(name: string) {
    await this.ctx.runner.waitFor(Math.max(this.ctx.commands.lastPosition, this.lastPosition));
    return (await loadDocument(this.ctx.readModels, this.ctx.store, name)).doc;
  }

  /** Checks the document's one rule for `userId`, against the conversation's decider state. */
  private async refusal(ref: DocRef, userId: string, access: 'read' | 'write'): Promise<ErrorCode | null> {
    const state = ref.kind === 'draft' ? null : await this.conversationState(ref.conversationId);
    return access === 'read' ? readRefusal(ref, userId, state) : writeRefusal(ref, userId, state);
  }

  /** The conversation's decider state, from the command handler (cached, caught up from the log). */
  private conversationState(conversationId: string): Promise<Readonly<ConversationState>> {
    return this.ctx.commands.stateOf(conversationId);
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
      const last = appended.events[appended.events.length - 1];
      if (last) this.lastPosition = Math.max(this.lastPosition, last.position);
    } catch (err) {
      if (isStoreUnavailableError(err)) throw new ParleyError('unavailable', undefined, { cause: err });
      throw err;
    }
  }

  private onFeed(events: StoredEvent[]): void {
    for (const e of events) {
      const name = docNameOfEvent(e);
      if (name) {
        this.rooms.get(name)?.applyDurable(updateOf(e));
        continue;
      }
      if (e.type === 'MemberLeft' || e.type === 'MessageDeleted') this.authorityChanged(e);
    }
  }

  /** A member who left loses the conversation's documents; a deleted message loses its body. */
  private authorityChanged(e: StoredEvent): void {
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

function toBytes(data: Buffer | ArrayBuffer | Buffer[]): Uint8Array {
  if (Array.isArray(data)) return new Uint8Array(Buffer.concat(data));
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}
