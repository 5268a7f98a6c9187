/**
 * The WebSocket gateway at `/v1/ws` (protocol in PROTOCOL.md).
 *
 * Authentication happens at the upgrade (`Authorization: Bearer …` or `?token=`), or, for
 * clients that cannot set either, with an `auth` frame within PARLEY_AUTH_TIMEOUT_SECONDS.
 * A socket without a valid token is closed with 4401 (or 4408 on timeout): browsers
 * cannot read an HTTP status from a failed upgrade, but they can read a close code.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type Database from 'better-sqlite3';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import type { WebSocket } from 'ws';
import { CLOSE, ParleyError } from '../../protocol/index.js';
import type { ReadModelRunner } from '../../projections/index.js';
import { toNewEvents } from '../domain/index.js';
import type { EventStore } from '../store/index.js';
import { backoffDelay, isStoreUnavailableError, userStream } from '../store/index.js';
import type { CommandHandler } from './command-handler.js';
import type { NodeConfig } from './config/index.js';
import type { FanOut } from './fan-out.js';
import { errorFrame, frame } from './frames.js';
import type { Metrics } from './metrics.js';
import { KeyedBuckets, TokenBucket } from './rate-limit.js';
import { sendBufferLimits, type SendBufferLimits } from './send-buffer.js';
import { Session } from './session.js';
import { verifyToken } from './config/index.js';

/** Pauses between attempts to record a presence change while the store is unavailable. */
const PRESENCE_RETRY = { initialMs: 250, maxMs: 10_000 };

export class Gateway {
  private readonly userBuckets: KeyedBuckets;
  /** The send-buffer limits every socket shares. */
  readonly sendLimits: SendBufferLimits;
  /** Each authenticated socket's session, for the socket listeners every socket shares. */
  private readonly sessions = new WeakMap<WebSocket, Session>();
  private readonly onSocketMessage: (this: WebSocket, data: Buffer, isBinary: boolean) => void;
  private readonly onSocketClose: (this: WebSocket) => void;
  private readonly onSocketError: (this: WebSocket, err: Error) => void;
  /** Open sockets per user on this node: presence events mark the 0↔1 transitions. */
  private readonly connections = new Map<string, number>();
  readonly sockets = new Set<WebSocket>();
  /** Presence appends in flight; a closing node waits for them before closing its store. */
  private readonly recording = new Set<Promise<unknown>>();
  private readonly presenceChains = new Map<string, Promise<void>>();
  private readonly subscriptionsByUser = new Map<string, number>();
  private closing = false;

  constructor(
    readonly config: NodeConfig,
    readonly store: EventStore,
    readonly commands: CommandHandler,
    readonly fanOut: FanOut,
    readonly readModels: Database.Database,
    readonly runner: ReadModelRunner,
    readonly metrics: Metrics,
    readonly log: FastifyBaseLogger,
  ) {
    this.userBuckets = new KeyedBuckets(config.rateLimitPerUser);
    this.sendLimits = sendBufferLimits(config.maxSendBufferBytes, config.slowConsumerSeconds * 1000);
    fanOut.reportErrorsTo(log);
    // One function per event for all sockets (the socket is `this`), not three closures each.
    const gw = this;
    this.onSocketMessage = function (data, isBinary) {
      const session = gw.sessions.get(this);
      if (session) gw.guarded(this, 'message', () => session.onMessage(data, isBinary));
    };
    this.onSocketClose = function () {
      const socket = this;
      const session = gw.sessions.get(socket);
      if (!session) return;
      gw.guarded(socket, 'close', () => {
        gw.sessions.delete(socket);
        gw.sockets.delete(socket);
        gw.metrics.sockets.dec();
        session.closed();
        gw.userDisconnected(session.userId);
      });
    };
    // A client breaking the WebSocket protocol (ws codes WS_ERR_*) is the client's fault:
    // debug, so no one can fill the error log. Anything else is ours. Either ends the socket.
    this.onSocketError = function (err) {
      const code = (err as { code?: unknown }).code;
      if (typeof code === 'string' && code.startsWith('WS_ERR_')) gw.log.debug({ err }, 'websocket protocol violation');
      else gw.log.error({ err }, 'websocket failed');
      this.terminate();
    };
  }

  /** Applies the connection's and the user's rate limits; false means refuse. */
  allow(userId: string, connection: TokenBucket): boolean {
    return connection.take() && this.userBuckets.take(userId);
  }

  /** A limiter for one more connection of `userId` (sync sockets use it too). */
  connectionLimiter(userId: string): { take(): boolean } {
    const bucket = new TokenBucket(this.config.rateLimitPerConnection);
    return { take: () => this.allow(userId, bucket) };
  }

  /** Read models have applied everything this node appended (read-your-writes). */
  consistentReads(): Promise<void> {
    return this.runner.waitFor(this.commands.lastPosition);
  }

  register(app: FastifyInstance): void {
    app.get('/v1/ws', { websocket: true, schema: { hide: true } as object }, (socket, request) => {
      this.letGoOfUpgrade(socket, request.raw);
      this.guarded(
        socket,
        'upgrade',
        () => this.accept(socket, request.headers.authorization, (request.query as { token?: unknown }).token),
        true,
      );
    });
  }

  /**
   * Lets go of the upgrade's HTTP request and response, which would otherwise live as
   * long as the socket (~2.5 KiB each): the plugin's per-socket error listener holds the
   * request and reply (this gateway's shared listener takes its place, classifying the
   * same way as http-server.ts's errorHandler), and the TCP socket still points at the
   * response the upgrade never sent.
   */
  private letGoOfUpgrade(socket: WebSocket, raw: IncomingMessage): void {
    socket.removeAllListeners('error');
    socket.on('error', this.onSocketError);
    const tcp = raw.socket as Socket & { _httpMessage?: ServerResponse | null };
    const response = tcp._httpMessage;
    if (response && typeof response.detachSocket === 'function') response.detachSocket(tcp);
  }

  /**
   * Runs one socket event's handler. Whatever it throws or rejects with is logged and
   * answered with a coded `internal` error: no path leads from a socket to a process exit.
   * A socket that failed before it was authenticated is closed (1011, transient): it has
   * no session to carry on with.
   */
  private guarded(socket: WebSocket, event: string, handler: () => unknown, closeOnError = false): void {
    const unexpected = (err: unknown) => {
      try {
        this.log.error({ err, event }, 'socket handler failed');
        this.metrics.errorsSent.inc({ code: 'internal' });
        if (socket.readyState === socket.OPEN) socket.send(errorFrame(new ParleyError('internal').toBody()));
        if (closeOnError) socket.close(1011, 'internal error');
      } catch {
        // Logging or sending failed too: nothing more to do for this socket.
      }
    };
    try {
      const result = handler();
      if (result instanceof Promise) result.catch(unexpected);
    } catch (err) {
      unexpected(err);
    }
  }

  private accept(socket: WebSocket, header: string | undefined, query: unknown): void {
    const fromHeader = header?.startsWith('Bearer ') ? header.slice(7) : undefined;
    const token = fromHeader ?? (typeof query === 'string' ? query : undefined);
    if (token !== undefined) return this.authenticate(socket, token);
    // No token at the upgrade: the first frame must be `auth`.
    const timer = setTimeout(
      () => this.guarded(socket, 'auth timeout', () => socket.close(CLOSE.authTimeout, 'no auth frame in time'), true),
      this.config.authTimeoutSeconds * 1000,
    );
    socket.once('close', () => clearTimeout(timer));
    socket.once('message', (data: Buffer) =>
      this.guarded(socket, 'auth frame', () => {
        clearTimeout(timer);
        let f: { type?: unknown; token?: unknown } | null | undefined;
        try {
          f = JSON.parse(data.toString('utf8'));
        } catch {
          f = undefined;
        }
        if (f?.type !== 'auth' || typeof f.token !== 'string') {
          socket.close(CLOSE.unauthorized, 'the first frame must be auth');
          return;
        }
        this.authenticate(socket, f.token);
      }, true),
    );
  }

  private authenticate(socket: WebSocket, token: string): void {
    const claims = verifyToken(this.config.jwtSecret, token);
    if (!claims) {
      socket.send(errorFrame(new ParleyError('unauthorized').toBody()));
      socket.close(CLOSE.unauthorized, 'invalid token');
      return;
    }
    if (!this.admit(socket, claims.sub)) return;
    const session = new Session(socket, claims.sub, this);
    this.sessions.set(socket, session);
    this.sockets.add(socket);
    this.metrics.sockets.inc();
    this.userConnected(claims.sub);
    socket.on('message', this.onSocketMessage);
    socket.on('close', this.onSocketClose);
    session.send(frame({ type: 'ready', userId: claims.sub, nodeId: this.config.nodeId, maxTextBytes: this.config.maxTextBytes }));
  }

  /**
   * Counts a user's subscriptions over all their sockets on this node; `+1` is refused
   * (false) past PARLEY_MAX_SUBSCRIPTIONS_PER_USER.
   */
  subscriptionsChanged(userId: string, delta: 1 | -1): boolean {
    const n = (this.subscriptionsByUser.get(userId) ?? 0) + delta;
    if (delta > 0 && n > this.config.maxSubscriptionsPerUser) return false;
    if (n <= 0) this.subscriptionsByUser.delete(userId);
    else this.subscriptionsByUser.set(userId, n);
    return true;
  }

  /**
   * Each socket opened takes from the user's rate, and a user's open sockets on this node
   * are bounded (PARLEY_MAX_SOCKETS_PER_USER): connecting and closing in a loop appended a
   * UserOnline/UserOffline pair per round with no limit at all, and one token could hold
   * thousands of sockets. A refused socket gets a coded error and a transient close (4503).
   */
  private admit(socket: WebSocket, userId: string): boolean {
    const max = this.config.maxSocketsPerUser;
    let refusal: ParleyError | undefined;
    if ((this.connections.get(userId) ?? 0) >= max) refusal = new ParleyError('limit_exceeded', `At most ${max} connections per user`);
    else if (!this.userBuckets.take(userId)) refusal = new ParleyError('rate_limited');
    if (!refusal) return true;
    this.metrics.errorsSent.inc({ code: refusal.code });
    socket.send(errorFrame(refusal.toBody()));
    socket.close(CLOSE.tryAgainLater, refusal.code);
    return false;
  }

  private userConnected(userId: string): void {
    const n = (this.connections.get(userId) ?? 0) + 1;
    this.connections.set(userId, n);
    if (n === 1) this.presence('UserOnline', userId);
  }

  private userDisconnected(userId: string): void {
    const n = (this.connections.get(userId) ?? 1) - 1;
    if (n > 0) {
      this.connections.set(userId, n);
      return;
    }
    this.connections.delete(userId);
    this.presence('UserOffline', userId);
  }

  /**
   * Records a presence change. A user's changes are appended in order, one after the
   * other; while the store is unavailable (a NATS outage) the change is retried with
   * backoff, so a user who left during the outage does not stay online for ever — and a
   * reconnect meanwhile waits behind it instead of overtaking it.
   */
  private presence(type: 'UserOnline' | 'UserOffline', userId: string): void {
    const events = toNewEvents([{ type, data: { userId, nodeId: this.config.nodeId } }], {
      actor: userId,
      commandId: `presence-${this.config.nodeId}`,
    });
    const record = async () => {
      for (let retry = 0; ; retry++) {
        try {
          await this.store.append(userStream(userId), events, { expectedVersion: 'any' });
          return;
        } catch (err) {
          if (this.closing || !isStoreUnavailableError(err)) {
            this.log.warn({ err, userId, type }, 'could not record presence');
            return;
          }
          await new Promise((r) => setTimeout(r, backoffDelay(retry, PRESENCE_RETRY)));
        }
      }
    };
    const previous = this.presenceChains.get(userId) ?? Promise.resolve();
    const done: Promise<void> = previous
      .then(record)
      .catch((err: unknown) => this.log.error({ err, userId, type }, 'could not record presence'))
      .finally(() => {
        this.recording.delete(done);
        if (this.presenceChains.get(userId) === done) this.presenceChains.delete(userId);
      });
    this.presenceChains.set(userId, done);
    this.recording.add(done);
  }

  /** Resolves when every presence change so far is in the log. */
  async settled(): Promise<void> {
    await Promise.allSettled([...this.recording]);
  }

  /**
   * Closes every socket with a transient code so clients reconnect (elsewhere or later),
   * waits briefly for the close handshakes, and for their users' offline events.
   */
  async shutdown(graceMs = 2000): Promise<void> {
    for (const s of this.sockets) s.close(CLOSE.tryAgainLater, 'node shutting down');
    const deadline = Date.now() + graceMs;
    while (this.sockets.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    for (const s of this.sockets) s.terminate();
    // Offline events get one try each from here on: a node going down does not wait out an outage.
    this.closing = true;
    await this.settled();
  }
}
