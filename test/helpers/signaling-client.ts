/**
 * A raw y-webrtc signaling client for tests: a real WebSocket to `/v1/signaling`, every
 * frame from the node recorded, bounded waits. `settle()` is the sentinel: a ping answered
 * means the node has handled every frame this socket sent before it (they are handled in
 * order) and sent everything it relayed to this socket before the pong.
 */
import WebSocket from 'ws';
import { EVENTUALLY_MS } from './eventually.js';

export type SignalingMessage = { type: string; topic?: string; data?: any; clients?: number; code?: string };

export interface SignalingTestClient {
  frames: SignalingMessage[];
  send(frame: unknown): void;
  next(match: (f: SignalingMessage) => boolean, from?: number, timeoutMs?: number): Promise<SignalingMessage>;
  /** Pings and waits for the pong; returns how many frames had arrived before it. */
  settle(): Promise<number>;
  closed: Promise<{ code: number; reason: string }>;
  ws: WebSocket;
}

export async function connectSignaling(baseUrl: string, token: string | undefined, path = '/v1/signaling'): Promise<SignalingTestClient> {
  const url = baseUrl.replace(/^http/, 'ws') + path + (token === undefined ? '' : `?token=${encodeURIComponent(token)}`);
  const ws = new WebSocket(url);
  const frames: SignalingMessage[] = [];
  const waiters = new Set<() => void>();
  ws.on('message', (data) => {
    frames.push(JSON.parse(data.toString()) as SignalingMessage);
    for (const w of waiters) w();
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.once('close', (code, reason) => {
      resolve({ code, reason: reason.toString() });
      for (const w of waiters) w();
    }),
  );
  ws.on('error', () => {}); // a refused upgrade shows as `closed`
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('close', () => resolve());
    ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade answered ${res.statusCode}`)));
  });
  const next = (match: (f: SignalingMessage) => boolean, from = 0, timeoutMs = EVENTUALLY_MS) =>
    new Promise<SignalingMessage>((resolve, reject) => {
      const check = () => {
        const found = frames.slice(from).find(match);
        if (found) {
          waiters.delete(check);
          clearTimeout(timer);
          resolve(found);
        } else if (ws.readyState === ws.CLOSED) {
          waiters.delete(check);
          clearTimeout(timer);
          reject(new Error(`socket closed; frames: ${JSON.stringify(frames)}`));
        }
      };
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`no matching signaling frame; got ${JSON.stringify(frames)}`));
      }, timeoutMs);
      waiters.add(check);
      check();
    });
  return {
    frames,
    ws,
    closed,
    send: (frame) => ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame)),
    next,
    settle: async () => {
      const from = frames.length;
      ws.send(JSON.stringify({ type: 'ping' }));
      const pong = await next((f) => f.type === 'pong', from);
      return frames.indexOf(pong, from);
    },
  };
}
