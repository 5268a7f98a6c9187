/**
 * A raw protocol client for tests: a real WebSocket, every server frame recorded, and
 * waits for frames with a bounded timeout.
 */
import WebSocket from 'ws';
import type { ClientFrame, ServerFrame } from '../../protocol/index.js';
import { EVENTUALLY_MS } from './eventually.js';

export interface TestSocket {
  frames: ServerFrame[];
  /** The type of every frame as it arrived (`events` pages not expanded). */
  types: string[];
  send(frame: ClientFrame | string | Buffer): void;
  /** The first recorded frame (from `from` on) that matches; waits for it if needed. */
  next<T extends ServerFrame = ServerFrame>(match: (f: ServerFrame) => boolean, timeoutMs?: number, from?: number): Promise<T>;
  /** Sends a command and waits for its ack or error. */
  command(id: string, command: Record<string, unknown>): Promise<ServerFrame>;
  closed: Promise<{ code: number; reason: string }>;
  close(): void;
  ws: WebSocket;
}

/** `ca`: the certificate authority to trust for a wss:// node (test/helpers/certificates.ts). */
export async function connectWs(baseUrl: string, token?: string, options: { via?: 'header' | 'query' | 'frame'; ca?: string } = {}): Promise<TestSocket> {
  const via = options.via ?? 'header';
  const url = baseUrl.replace(/^http/, 'ws') + '/v1/ws' + (via === 'query' && token ? `?token=${encodeURIComponent(token)}` : '');
  const ws = new WebSocket(url, { headers: via === 'header' && token ? { authorization: `Bearer ${token}` } : {}, ...(options.ca && { ca: options.ca }) });
  const frames: ServerFrame[] = [];
  const waiters = new Set<() => void>();
  const types: string[] = [];
  ws.on('message', (data) => {
    const f = JSON.parse(data.toString()) as ServerFrame;
    types.push(f.type);
    // A catch-up page is recorded as its events, one by one, so assertions read the same.
    if (f.type === 'events') for (const event of f.events) frames.push({ type: 'event', event });
    else frames.push(f);
    for (const w of waiters) w();
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.once('close', (code, reason) => {
      resolve({ code, reason: reason.toString() });
      for (const w of waiters) w();
    }),
  );
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  if (via === 'frame' && token) ws.send(JSON.stringify({ type: 'auth', token }));

  const next = <T extends ServerFrame>(match: (f: ServerFrame) => boolean, timeoutMs = EVENTUALLY_MS, from = 0) =>
    new Promise<T>((resolve, reject) => {
      const check = () => {
        const found = frames.slice(from).find(match);
        if (found) {
          waiters.delete(check);
          clearTimeout(timer);
          resolve(found as T);
        }
      };
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`no matching frame in ${timeoutMs} ms; got ${JSON.stringify(frames.slice(-5))}`));
      }, timeoutMs);
      waiters.add(check);
      check();
    });
  // Buffers go out as text frames too, so tests can send invalid UTF-8 as text.
  const send = (f: ClientFrame | string | Buffer) =>
    ws.send(typeof f === 'string' || Buffer.isBuffer(f) ? f : JSON.stringify(f), { binary: false });
  return {
    frames,
    types,
    send,
    next,
    command: (id, command) => {
      const from = frames.length;
      send({ type: 'command', id, command } as ClientFrame);
      return next((f) => (f.type === 'ack' || f.type === 'error') && f.id === id, 5000, from);
    },
    closed,
    close: () => ws.close(),
    ws,
  };
}
