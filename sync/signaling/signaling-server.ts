/**
 * The y-webrtc signaling endpoint: `GET /v1/signaling` upgraded to a WebSocket, so a stock
 * `WebrtcProvider` (signaling URL `ws(s)://node/v1/signaling?token=…`) finds the other
 * peers of a document through the node and then edits peer to peer (frames.ts).
 *
 * A topic is a document name (`docNames`), and joining one takes a valid token (checked at
 * the upgrade, 4401 otherwise) and the document's rule as the sync endpoint applies it
 * (write-rule.ts; the extension passes the *write* rule: updates peers send each other
 * never pass the node's check, so only those who could send the same through the node
 * may be peers: a conversation's members for its notes, the user for a draft, the author
 * alone for a message body). So only those allowed learn of a document's peers. A topic
 * the caller may not join is not joined: the socket gets a `refused` frame and the node a
 * log line; publishing to a topic the socket has not joined relays nothing.
 * When a member leaves a conversation, their sockets leave its documents' topics at once
 * (a deleted message's topic is left by everyone). WebRTC connections already made are
 * the peers' own and outside the node's reach; what they carry the server never stored.
 *
 * Bounds, all the node's own: the frame size (PARLEY_MAX_FRAME_BYTES, enforced by `ws`),
 * sockets per user (maxSocketsPerUser, counted apart from /v1/ws and /v1/sync), topics per
 * socket and per frame (maxSubscriptionsPerSocket), frames per second (the connection and
 * user token buckets: past them the socket is closed 4503 and the client reconnects), the
 * frames waiting for a read check, and each receiver's send buffer (maxSendBufferBytes:
 * past it that receiver is closed as a slow consumer, 4504).
 */
import type { FastifyRequest } from 'fastify';
import { Counter, Gauge } from 'prom-client';
import type { WebSocket } from 'ws';
import { conversationIdOf } from '../../engine/store/index.js';
import { asKnown, type EventOf } from '../../projections/index.js';
import { CLOSE, ParleyError, docNameOf, parseDocName, type DocRef, type ErrorCode } from '../../protocol/index.js';
import type { StoredEvent, SyncHost } from '../engine-types.js';
import { PONG_FRAME, parseSignalingFrame, publishFrame, refusedFrame } from './frames.js';
import { SignalingSocket } from './signaling-socket.js';

export interface SignalingOptions {
  /** Route (default `/v1/signaling`). */
  path?: string;
  /** Frames one socket may have waiting for a read check (default 64). */
  maxWaitingFrames?: number;
}

/** The document rule a peer must pass, as the sync endpoint applies it: null when `userId` may join. */
export type AccessCheck = (ref: DocRef, userId: string) => Promise<ErrorCode | null>;

export class SignalingServer {
  /** Topic → the sockets that joined it (each passed the read check). */
  private readonly topics = new Map<string, Set<SignalingSocket>>();
  private readonly byUser = new Map<string, Set<SignalingSocket>>();
  private readonly all = new Set<SignalingSocket>();
  private readonly refused: Counter<'reason'>;
  private readonly relayed: Counter;
  private readonly stopFeed: () => void;
  /** Removals and deletions seen in the feed, so a join that waited across one is checked again. */
  private authorityChanges = 0;

  constructor(
    private readonly ctx: SyncHost,
    private readonly accessCheck: AccessCheck,
    private readonly options: SignalingOptions = {},
  ) {
    const registers = [ctx.metrics.registry];
    this.refused = new Counter({
      name: 'parley_signaling_refused_total',
      help: 'Signaling topics refused, frames dropped and sockets cut off, by reason (an error code, invalid_frame, not_joined, slow_consumer, socket_limit, internal)',
      labelNames: ['reason'],
      registers,
    });
    this.relayed = new Counter({ name: 'parley_signaling_relayed_total', help: 'Signaling frames relayed to a peer', registers });
    const { all, topics } = this;
    new Gauge({
      name: 'parley_signaling_sockets',
      help: 'Open signaling sockets',
      registers,
      collect() {
        this.set(all.size);
      },
    });
    new Gauge({
      name: 'parley_signaling_topics',
      help: 'Signaling topics (documents) with at least one peer',
      registers,
      collect() {
        this.set(topics.size);
      },
    });
    this.stopFeed = ctx.store.subscribe((events) => this.onFeed(events));
  }

  register(): void {
    this.ctx.app.get(this.options.path ?? '/v1/signaling', { websocket: true, schema: { hide: true } as object }, (socket, request) =>
      this.connect(socket as unknown as WebSocket, request),
    );
  }

  /** Topics `userId` has joined over all their sockets (for tests and ops). */
  topicsOf(userId: string): string[] {
    const out = new Set<string>();
    for (const s of this.byUser.get(userId) ?? []) for (const t of s.topics) out.add(t);
    return [...out];
  }

  close(): void {
    this.stopFeed();
    for (const s of this.all) s.socket.close(CLOSE.tryAgainLater, 'node shutting down');
  }

  private connect(socket: WebSocket, request: FastifyRequest): void {
    const conn = new SignalingSocket(socket);
    const limits = this.ctx.config;
    let limiter: { take(): boolean } | null = null;
    const fail = (err: unknown) => {
      try {
        const unavailable = err instanceof ParleyError && err.code === 'unavailable';
        if (!unavailable) request.log.error({ err }, 'signaling: frame handler failed');
        this.refused.inc({ reason: 'internal' });
        socket.close(unavailable ? CLOSE.tryAgainLater : 1011, unavailable ? 'unavailable' : 'internal');
      } catch {
        socket.terminate();
      }
    };
    const maxWaiting = this.options.maxWaitingFrames ?? 64;
    socket.on('message', (data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean) => {
      try {
        // Counted as they arrive (frames before the token check wait in the bounded queue):
        // a flood closes the socket at once and the client reconnects with backoff.
        if (limiter && !limiter.take()) return void socket.close(CLOSE.tryAgainLater, 'rate_limited');
        const text = isBinary ? null : textOf(data);
        const queued = conn.enqueue(() => this.onFrame(conn, text, request), maxWaiting, fail);
        if (!queued) {
          this.refused.inc({ reason: 'limit_exceeded' });
          socket.close(CLOSE.tryAgainLater, 'limit_exceeded');
        }
      } catch (err) {
        fail(err);
      }
    });
    socket.on('close', () => {
      try {
        this.forget(conn);
      } catch (err) {
        request.log.error({ err }, 'signaling: close handler failed');
      }
    });
    this.all.add(conn);
    // The check of the token goes first in the socket's queue: frames sent right after the
    // upgrade wait behind it.
    conn.enqueue(
      async () => {
        const caller = await this.ctx.authenticateUpgrade(request);
        if (conn.closed) return;
        if (!caller) return void socket.close(CLOSE.unauthorized, 'unauthorized');
        const mine = this.byUser.get(caller.sub) ?? new Set<SignalingSocket>();
        if (mine.size >= limits.maxSocketsPerUser) {
          this.refused.inc({ reason: 'socket_limit' });
          return void socket.close(CLOSE.tryAgainLater, 'limit_exceeded');
        }
        limiter = this.ctx.connectionLimiter(caller.sub);
        if (!limiter.take()) return void socket.close(CLOSE.tryAgainLater, 'rate_limited');
        conn.userId = caller.sub;
        mine.add(conn);
        this.byUser.set(caller.sub, mine);
      },
      1,
      fail,
    );
  }

  private async onFrame(conn: SignalingSocket, text: string | null, request: FastifyRequest): Promise<void> {
    const userId = conn.userId;
    if (!userId) return; // the socket is being closed: its token was refused
    const frame = text === null ? null : parseSignalingFrame(text, this.ctx.config.maxSubscriptionsPerSocket);
    if (!frame) return void this.refused.inc({ reason: 'invalid_frame' });
    switch (frame.type) {
      case 'subscribe':
        for (const topic of frame.topics) await this.join(conn, userId, topic, request);
        return;
      case 'unsubscribe':
        for (const topic of frame.topics) this.leave(conn, topic);
        return;
      case 'publish':
        return this.relay(conn, frame.topic, frame.data);
      case 'ping':
        conn.send(PONG_FRAME, this.ctx.config.maxSendBufferBytes);
        return;
      default: {
        const never: never = frame;
        return never;
      }
    }
  }

  private async join(conn: SignalingSocket, userId: string, topic: string, request: FastifyRequest): Promise<void> {
    if (conn.topics.has(topic)) return;
    const refusal = await this.checkedAgainstRemovals(() => this.refusalOf(conn, userId, topic));
    if (conn.closed) return;
    if (refusal) {
      this.refused.inc({ reason: refusal });
      request.log.info({ userId, topic: topic.slice(0, 200), code: refusal }, 'signaling: topic refused');
      conn.send(refusedFrame(topic.slice(0, 200), refusal), this.ctx.config.maxSendBufferBytes);
      return;
    }
    conn.topics.add(topic);
    const peers = this.topics.get(topic) ?? new Set<SignalingSocket>();
    peers.add(conn);
    this.topics.set(topic, peers);
  }

  private async refusalOf(conn: SignalingSocket, userId: string, topic: string): Promise<ErrorCode | null> {
    if (conn.topics.size >= this.ctx.config.maxSubscriptionsPerSocket) return 'limit_exceeded';
    const ref = parseDocName(topic);
    // Only the canonical spelling is a topic: two names for one document would be two rooms.
    if (!ref || docNameOf(ref) !== topic) return 'invalid_request';
    return this.accessCheck(ref, userId);
  }

  /**
   * The check, run again when a removal or deletion went by while it waited for the
   * conversation's state: a join granted on the state from before a removal would
   * otherwise land after the removal dropped that user's topics, and stay.
   */
  private async checkedAgainstRemovals(check: () => Promise<ErrorCode | null>): Promise<ErrorCode | null> {
    for (let attempt = 0; attempt < 3; attempt++) {
      const seen = this.authorityChanges;
      const refusal = await check();
      if (refusal || seen === this.authorityChanges) return refusal;
    }
    return 'unavailable';
  }

  private leave(conn: SignalingSocket, topic: string): void {
    if (!conn.topics.delete(topic)) return;
    const peers = this.topics.get(topic);
    peers?.delete(conn);
    if (peers?.size === 0) this.topics.delete(topic);
  }

  /** Sends `data` to every socket in the topic (the sender too, as y-webrtc's server does: clients skip their own). */
  private relay(from: SignalingSocket, topic: string, data: unknown): void {
    if (!from.topics.has(topic)) return void this.refused.inc({ reason: 'not_joined' });
    const peers = this.topics.get(topic);
    if (!peers) return;
    const text = publishFrame(topic, data, peers.size);
    for (const peer of peers) {
      if (peer.send(text, this.ctx.config.maxSendBufferBytes)) continue;
      this.refused.inc({ reason: 'slow_consumer' });
      peer.socket.close(CLOSE.slowConsumer, 'slow_consumer');
    }
    this.relayed.inc(peers.size);
  }

  private forget(conn: SignalingSocket): void {
    conn.closed = true;
    this.all.delete(conn);
    for (const topic of [...conn.topics]) this.leave(conn, topic);
    if (!conn.userId) return;
    const mine = this.byUser.get(conn.userId);
    mine?.delete(conn);
    if (mine?.size === 0) this.byUser.delete(conn.userId);
  }

  private onFeed(events: StoredEvent[]): void {
    for (const e of events) {
      try {
        const known = asKnown(e);
        if (known.type === 'MemberLeft' || known.type === 'MessageDeleted' || known.type === 'MessageErased') this.authorityChanged(known);
      } catch (err) {
        this.ctx.app.log.error({ err, position: e.position }, 'signaling: could not apply an event of the feed');
      }
    }
  }

  /** A member who left leaves the conversation's topics; a deleted (or erased) message's topic is left by all. */
  private authorityChanged(e: EventOf<'MemberLeft' | 'MessageDeleted' | 'MessageErased'>): void {
    this.authorityChanges++;
    const conversationId = conversationIdOf(e.stream);
    if (!conversationId) return;
    const sockets = e.type === 'MemberLeft' ? (this.byUser.get(e.data.userId) ?? []) : this.all;
    for (const conn of sockets) {
      for (const topic of [...conn.topics]) {
        const ref = parseDocName(topic);
        if (!ref || ref.kind === 'draft' || ref.conversationId !== conversationId) continue;
        if (e.type !== 'MemberLeft' && !(ref.kind === 'message' && ref.messageId === e.data.messageId)) continue;
        this.leave(conn, topic);
        const code = e.type === 'MemberLeft' ? 'forbidden' : e.type === 'MessageDeleted' ? 'message_deleted' : 'message_erased';
        conn.send(refusedFrame(topic, code), this.ctx.config.maxSendBufferBytes);
      }
    }
  }
}

/** The text of a frame however `ws` hands it over (UTF-8 is not validated: JSON.parse refuses what is not JSON). */
function textOf(data: Buffer | ArrayBuffer | Buffer[]): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return (Buffer.isBuffer(data) ? data : Buffer.from(data)).toString('utf8');
}
