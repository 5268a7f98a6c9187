/**
 * One chat client per system, all over raw `ws` sockets so the load generator spends the
 * same on every system: Parley's protocol (PROTOCOL.md), Engine.IO v4 / Socket.IO v5
 * packets for the Socket.IO peer, and the bare peer's JSON frames. Delivered frames are
 * handed over as Buffers; callers look for their own marker instead of parsing JSON.
 */
import { randomUUID } from 'node:crypto';
import WebSocket from 'ws';
import { signBenchToken } from '../token.js';

export type System = 'parley' | 'socketio' | 'ws';

export interface ChatClient {
  readonly userId: string;
  /** Follows the rooms/conversations; resolves when the server confirmed all of them. */
  join(rooms: string[]): Promise<void>;
  post(room: string, text: string): void;
  /** Every frame from the server that may be a delivery. */
  onDelivery: ((frame: Buffer) => void) | null;
  close(): void;
  readonly ws: WebSocket;
}

export interface ConnectOptions {
  localAddress?: string;
  timeoutMs?: number;
  /** Offer permessage-deflate at the upgrade (browsers always do); default true. */
  deflate?: boolean;
}

const CAUGHT_UP = Buffer.from('"type":"caught-up"');
const ERROR = Buffer.from('"type":"error"');

function wsUrl(httpUrl: string, path: string): string {
  return httpUrl.replace(/^http/, 'ws') + path;
}

/** Connects and authenticates one client; resolves once the server says it is ready. */
export function connectClient(system: System, url: string, userId: string, options: ConnectOptions = {}): Promise<ChatClient> {
  const token = signBenchToken(userId);
  const common = { localAddress: options.localAddress, handshakeTimeout: options.timeoutMs ?? 30_000, perMessageDeflate: options.deflate ?? true };
  const ws =
    system === 'parley'
      ? new WebSocket(wsUrl(url, '/v1/ws'), { ...common, headers: { authorization: `Bearer ${token}` } })
      : system === 'ws'
        ? new WebSocket(wsUrl(url, '/ws'), { ...common, headers: { authorization: `Bearer ${token}` } })
        : new WebSocket(wsUrl(url, '/socket.io/?EIO=4&transport=websocket'), common);

  let joinWaiter: { left: number; resolve: () => void; reject: (e: Error) => void } | null = null;
  let ready: () => void;
  let failed: (e: Error) => void;
  const readyPromise = new Promise<void>((res, rej) => ((ready = res), (failed = rej)));
  let isReady = false;

  const client: ChatClient = {
    userId,
    ws,
    onDelivery: null,
    join(rooms) {
      return new Promise<void>((resolve, reject) => {
        joinWaiter = { left: system === 'parley' ? rooms.length : 1, resolve, reject };
        if (system === 'parley') {
          ws.send(JSON.stringify({ type: 'subscribe', conversations: rooms.map((conversationId) => ({ conversationId, afterSeq: 0 })) }));
        } else if (system === 'ws') {
          ws.send(JSON.stringify({ t: 'join', rooms }));
        } else {
          ws.send(`421${JSON.stringify(['join', rooms])}`);
        }
      });
    },
    post(room, text) {
      if (system === 'parley') {
        ws.send(JSON.stringify({ type: 'command', id: randomUUID(), command: { type: 'PostMessage', conversationId: room, text } }));
      } else if (system === 'ws') {
        ws.send(JSON.stringify({ t: 'post', room, text }));
      } else {
        ws.send(`42${JSON.stringify(['post', { room, text }])}`);
      }
    },
    close() {
      ws.terminate();
    },
  };

  ws.on('message', (data: Buffer) => {
    if (!isReady) {
      const s = data.toString('utf8');
      if (system === 'socketio') {
        if (s.startsWith('0{')) ws.send(`40${JSON.stringify({ token })}`);
        else if (s.startsWith('40')) ((isReady = true), ready());
        else if (s.startsWith('44')) failed(new Error(`socket.io refused: ${s}`));
        return;
      }
      if (s.includes('"ready"')) ((isReady = true), ready());
      else failed(new Error(`unexpected first frame: ${s.slice(0, 200)}`));
      return;
    }
    if (system === 'socketio' && data.length === 1 && data[0] === 0x32) return void ws.send('3'); // ping → pong
    if (joinWaiter) {
      if (system === 'parley') {
        if (data.includes(CAUGHT_UP)) {
          if (--joinWaiter.left === 0) ((joinWaiter.resolve(), (joinWaiter = null)));
          return;
        }
        if (data.includes(ERROR)) return void (joinWaiter.reject(new Error(data.toString())), (joinWaiter = null));
      } else if (system === 'ws' ? data.includes('"joined"') : data.toString('latin1', 0, 3) === '431') {
        joinWaiter.resolve();
        joinWaiter = null;
        return;
      }
    }
    client.onDelivery?.(data);
  });
  ws.on('error', (err) => failed(err));
  ws.on('close', (code) => failed(new Error(`closed ${code}`)));
  const timer = setTimeout(() => failed(new Error('not ready in time')), options.timeoutMs ?? 30_000);
  return readyPromise.then(
    () => (clearTimeout(timer), client),
    (err) => {
      clearTimeout(timer);
      ws.terminate();
      throw err;
    },
  );
}

/** Runs `fn` over `items` with at most `limit` running at once. */
export async function withConcurrency<T, R>(items: T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!, i);
    }
  });
  await Promise.all(workers);
  return out;
}
