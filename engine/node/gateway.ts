/**
 * The WebSocket gateway at `/v1/ws` (protocol in PROTOCOL.md).
 *
 * Authentication happens at the upgrade (`Authorization: Bearer …` or `?token=`), or, for
 * clients that cannot set either, with an `auth` frame within PARLEY_AUTH_TIMEOUT_SECONDS.
 * A socket without a valid token is closed with 4401 (or 4408 on timeout): browsers
 * cannot read an HTTP status from a failed upgrade, but they can read a close code. While
 * a token is verified (a JWKS fetch may take a moment) the socket is paused and the few
 * frames already received are held, then handled in order once the session exists; if the
 * identity provider's keys cannot be fetched the socket is closed 4503 (try again).
 *
 * The gateway keeps the WebSocket side only: the upgrade, authentication, a user's open
 * sockets (bounded) and their shutdown. Presence is recorded elsewhere (it is told of a
 * user's first and last socket), and each session gets the node's parts it uses from its
 * own SessionHost, not through the gateway.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyBaseLogger, FastifyRequest } from 'fastify';
import type { WebSocket } from 'ws';
import { CLOSE, ParleyError } from '../../protocol/index.js';
import { authFrameToken, bearerOf, type TokenVerifier } from './auth/index.js';
import type { NodeConfig } from './config/index.js';
import { errorFrame, frame } from './frames.js';
import type { Metrics } from './metrics.js';
import type { PresenceLog } from './presence-recorder.js';
import { Session } from './session.js';
import type { SessionHost } from './session-host.js';

/** Frames a socket may send while its token is verified (a client waits for `ready`; a few may be in flight). */
const HELD_FRAMES = 32;

/** What the gateway needs from the node. */
export interface GatewayDeps {
  readonly settings: Pick<NodeConfig, 'nodeId' | 'maxTextBytes' | 'authTimeoutSeconds' | 'maxSocketsPerUser'>;
  readonly tokens: TokenVerifier;
  /** The user's rate on this node, shared by all their connections: opening a socket takes from it. */
  readonly userRate: { takeForUser(userId: string): boolean };
  /** Told when a user's first socket on this node opens and their last one closes. */
  readonly presence: PresenceLog;
  /** What every session is given. */
  readonly sessions: SessionHost;
  readonly metrics: Pick<Metrics, 'sockets' | 'errorsSent'>;
  readonly log: FastifyBaseLogger;
}

export class Gateway {
  /**
   * Each open authenticated socket's session, for the socket listeners every socket shares
   * and for shutdown. One table, not a WeakMap plus a Set: an entry is removed when its
   * socket closes either way, and each table costs every idle socket a slot.
   */
  private readonly sessions = new Map<WebSocket, Session>();
  private readonly onSocketMessage: (this: WebSocket, data: Buffer, isBinary: boolean) => void;
  private readonly onSocketClose: (this: WebSocket) => void;
  private readonly onSocketError: (this: WebSocket, err: Error) => void;
  /** Open sockets per user on this node: bounded, and their 0↔1 transitions are presence. */
  private readonly connections = new Map<string, number>();
  private readonly config: GatewayDeps['settings'];
  private readonly log: FastifyBaseLogger;
  private readonly metrics: GatewayDeps['metrics'];
  /** Set by `closeSockets`: a socket upgraded from then on is closed at once (4503). */
  private closing = false;

  constructor(private readonly deps: GatewayDeps) {
    this.config = deps.settings;
    this.log = deps.log;
    this.metrics = deps.metrics;
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

  /** Takes a socket the `/v1/ws` route upgraded: authenticates it (now or by its first frame) and gives it a session. */
  connect(socket: WebSocket, request: FastifyRequest): void {
    this.letGoOfUpgrade(socket, request.raw);
    if (this.closing) return void socket.close(CLOSE.tryAgainLater, 'node shutting down');
    this.guarded(socket, 'upgrade', () => this.accept(socket, bearerOf(request, true)), true);
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

  private accept(socket: WebSocket, token: string | undefined): Promise<void> | undefined {
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
        const token = authFrameToken(data);
        if (token === undefined) {
          socket.close(CLOSE.unauthorized, 'the first frame must be auth');
          return;
        }
        return this.authenticate(socket, token);
      }, true),
    );
    return undefined;
  }

  private async authenticate(socket: WebSocket, token: string): Promise<void> {
    const held: Array<[Buffer, boolean]> = [];
    const hold = (data: Buffer, isBinary: boolean) => {
      if (held.length < HELD_FRAMES) held.push([data, isBinary]);
      else socket.close(CLOSE.tryAgainLater, 'limit_exceeded');
    };
    socket.on('message', hold);
    socket.pause();
    try {
      await this.open(socket, token);
    } finally {
      socket.off('message', hold);
      socket.resume();
    }
    if (this.sessions.has(socket)) for (const [data, isBinary] of held) this.onSocketMessage.call(socket, data, isBinary);
  }

  /** Verifies the token and, when it names a user who may connect, gives the socket its session. */
  private async open(socket: WebSocket, token: string): Promise<void> {
    let claims;
    try {
      claims = await this.deps.tokens.verify(token);
    } catch (err) {
      if (!(err instanceof ParleyError)) throw err;
      // The keys could not be fetched: the token may be fine, so the client should come back.
      this.metrics.errorsSent.inc({ code: err.code });
      if (socket.readyState === socket.OPEN) socket.send(errorFrame(err.toBody()));
      socket.close(CLOSE.tryAgainLater, err.code);
      return;
    }
    // Gone (or over its held frames) while its token was verified: nothing to set up.
    if (socket.readyState !== socket.OPEN) return;
    if (!claims) {
      socket.send(errorFrame(new ParleyError('unauthorized').toBody()));
      socket.close(CLOSE.unauthorized, 'invalid token');
      return;
    }
    if (!this.admit(socket, claims.sub)) return;
    const session = new Session(socket, claims.sub, this.deps.sessions);
    this.sessions.set(socket, session);
    this.metrics.sockets.inc();
    this.userConnected(claims.sub);
    socket.on('message', this.onSocketMessage);
    socket.on('close', this.onSocketClose);
    session.send(frame({ type: 'ready', userId: claims.sub, nodeId: this.config.nodeId, maxTextBytes: this.config.maxTextBytes }));
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
    else if (!this.deps.userRate.takeForUser(userId)) refusal = new ParleyError('rate_limited');
    if (!refusal) return true;
    this.metrics.errorsSent.inc({ code: refusal.code });
    socket.send(errorFrame(refusal.toBody()));
    socket.close(CLOSE.tryAgainLater, refusal.code);
    return false;
  }

  private userConnected(userId: string): void {
    const n = (this.connections.get(userId) ?? 0) + 1;
    this.connections.set(userId, n);
    if (n === 1) this.deps.presence.online(userId);
  }

  private userDisconnected(userId: string): void {
    const n = (this.connections.get(userId) ?? 1) - 1;
    if (n > 0) {
      this.connections.set(userId, n);
      return;
    }
    this.connections.delete(userId);
    this.deps.presence.offline(userId);
  }

  /**
   * Refuses new sockets, lets every session answer the commands it has taken (no more
   * frames are read), closes each with a transient code so clients reconnect (elsewhere
   * or later), and waits briefly for the close handshakes; the rest are cut. All within
   * `graceMs`: a command stuck on an unreachable store does not hold a shutdown.
   */
  async closeSockets(graceMs = 5000): Promise<void> {
    this.closing = true;
    const deadline = Date.now() + graceMs;
    const quiet = [...this.sessions.values()].map((s) => s.quiesce());
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all(quiet), new Promise((r) => (timer = setTimeout(r, graceMs / 2)))]);
    clearTimeout(timer);
    for (const s of this.sessions.keys()) s.close(CLOSE.tryAgainLater, 'node shutting down');
    while (this.sessions.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    for (const s of this.sessions.keys()) s.terminate();
  }
}
