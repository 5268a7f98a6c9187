/**
 * One WebSocket to a node's `/v1/ws`, kept open: authenticates with an `auth` frame (the
 * token stays out of URLs and logs), asks the token provider again on every attempt,
 * reconnects with jittered exponential backoff after transient closes, and stops for good
 * on final close codes (4400–4499), keeping the reason.
 */
import { isFinalClose, type ClientFrame, type ServerFrame } from '../protocol/index.js';
import { backoffDelay, type BackoffOptions } from './backoff.js';
import { Value, type Observable } from './observable.js';

/** The part of the WHATWG WebSocket the client uses; browsers' and `ws`'s both fit. */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: any) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: any) => void) | null;
}

export type WebSocketConstructor = new (url: string) => WebSocketLike;

export type ConnectionStatus = 'connecting' | 'online' | 'offline' | 'stopped';

export interface ConnectionState {
  status: ConnectionStatus;
  /** Failed attempts since the last time the client was online. */
  attempt: number;
  /** The last close, when not online. For `stopped` it says why the client gave up. */
  close?: { code: number; reason: string };
  /** Set when the app stopped the connection (`close()`, `goOffline()`), not the server. */
  byClient?: boolean;
}

export type TokenProvider = () => string | Promise<string>;

export interface ConnectionOptions {
  /** The node's base URL (`http://…` or `ws://…`); `/v1/ws` is appended. */
  url: string;
  token: TokenProvider;
  WebSocket: WebSocketConstructor;
  backoff?: BackoffOptions;
  /** Ping period while online; a socket silent for two periods is treated as dead (default 20 000). */
  heartbeatMs?: number;
  onFrame(frame: ServerFrame): void;
}

const OPEN = 1;

export class Connection {
  private readonly value = new Value<ConnectionState>({ status: 'offline', attempt: 0 });
  readonly state: Observable<ConnectionState> = this.value;
  private socket: WebSocketLike | undefined;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private wanted = false;
  private heartbeat: ReturnType<typeof setInterval> | undefined;
  private lastHeard = 0;

  constructor(private readonly options: ConnectionOptions) {}

  /** Connects (again) unless already connecting or online. */
  start(): void {
    this.wanted = true;
    if (this.socket || this.timer) return;
    void this.connect();
  }

  /** Closes the socket and stops reconnecting until `start()`; `offline` is the app's "go offline" switch. */
  stop(status: 'stopped' | 'offline' = 'stopped'): void {
    this.wanted = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    clearInterval(this.heartbeat);
    const socket = this.socket;
    this.socket = undefined;
    socket?.close(1000, 'client stopped');
    this.value.set({ status, attempt: 0, byClient: true });
  }

  /** Sends a frame if the socket is open and authenticated; false when it could not. */
  send(frame: ClientFrame | Record<string, unknown>): boolean {
    if (!this.socket || this.socket.readyState !== OPEN || this.value.get().status !== 'online') return false;
    this.socket.send(JSON.stringify(frame));
    return true;
  }

  private async connect(): Promise<void> {
    const attempt = this.value.get().attempt;
    this.value.set({ status: 'connecting', attempt });
    let token: string;
    try {
      token = await this.options.token();
    } catch {
      return this.retry({ code: 0, reason: 'the token provider failed' });
    }
    if (!this.wanted) return;
    const url = this.options.url.replace(/^http/, 'ws').replace(/\/$/, '') + '/v1/ws';
    let socket: WebSocketLike;
    try {
      socket = new this.options.WebSocket(url);
    } catch (err) {
      return this.retry({ code: 0, reason: String(err) });
    }
    this.socket = socket;
    socket.onopen = () => socket.send(JSON.stringify({ type: 'auth', token }));
    socket.onerror = () => {};
    socket.onmessage = (ev) => {
      if (this.socket !== socket) return;
      this.lastHeard = Date.now();
      let frame: ServerFrame;
      try {
        frame = JSON.parse(String(ev.data));
      } catch {
        return;
      }
      // Not a frame at all (`null`, a number, an array): ignored like text that is not JSON.
      if (typeof frame !== 'object' || frame === null || typeof (frame as { type?: unknown }).type !== 'string') return;
      try {
        if (frame.type === 'ready') {
          this.value.set({ status: 'online', attempt: 0 });
          this.beat(socket);
        }
        this.options.onFrame(frame);
      } catch {
        // A frame of a known type but not its shape (an `events` frame without events)
        // must not throw out of onmessage, where nothing catches it. What it carried is
        // unknown: start over on a new socket, which resumes every conversation from its
        // last seq. (App listeners cannot land here: their errors are reported apart.)
        if (this.socket !== socket) return;
        clearInterval(this.heartbeat);
        this.socket = undefined;
        socket.close(3000, 'unreadable frame');
        this.retry({ code: 3000, reason: 'unreadable frame from the server' });
      }
    };
    socket.onclose = (ev) => {
      if (this.socket !== socket) return;
      this.socket = undefined;
      clearInterval(this.heartbeat);
      const close = { code: ev.code, reason: ev.reason };
      if (isFinalClose(ev.code)) {
        this.wanted = false;
        this.value.set({ status: 'stopped', attempt: 0, close });
        return;
      }
      this.retry(close);
    };
  }

  /**
   * A half-open TCP connection (laptop lid closed, NAT timeout) never fires `close`:
   * ping, and give up on a socket that stayed silent for two periods.
   */
  private beat(socket: WebSocketLike): void {
    const period = this.options.heartbeatMs ?? 20_000;
    clearInterval(this.heartbeat);
    this.heartbeat = setInterval(() => {
      if (this.socket !== socket) return clearInterval(this.heartbeat);
      if (Date.now() - this.lastHeard > 2 * period) {
        clearInterval(this.heartbeat);
        this.socket = undefined;
        socket.close(3000, 'no answer to pings');
        this.retry({ code: 3000, reason: 'no answer to pings' });
        return;
      }
      socket.send(JSON.stringify({ type: 'ping' }));
    }, period);
  }

  private retry(close: { code: number; reason: string }): void {
    this.socket = undefined;
    if (!this.wanted) return;
    const attempt = this.value.get().attempt;
    this.value.set({ status: 'offline', attempt: attempt + 1, close });
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (this.wanted) void this.connect();
    }, backoffDelay(attempt, this.options.backoff));
  }
}
