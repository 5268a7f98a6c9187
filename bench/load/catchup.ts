/**
 * Catch-up: `fill` posts `count` messages into one conversation (pipelined commands over
 * one WebSocket); `ws` reconnects as the other member and subscribes after seq 1, timing
 * until every missed event arrived in order and `caught-up` came; `http` pages the same
 * messages through `GET /v1/conversations/:id/messages?after=…&limit=…`.
 */
import { randomUUID } from 'node:crypto';
import WebSocket from 'ws';
import { signBenchToken } from '../token.js';
import { progress, serveRequests } from './serve-requests.js';

function open(url: string, userId: string, deflate = true): Promise<{ ws: WebSocket; frames: (cb: (f: any) => void) => void }> {
  const ws = new WebSocket(url.replace(/^http/, 'ws') + '/v1/ws', {
    headers: { authorization: `Bearer ${signBenchToken(userId)}` },
    perMessageDeflate: deflate,
  });
  let listener: (f: any) => void = () => {};
  return new Promise((resolve, reject) => {
    ws.on('message', (d: Buffer) => {
      const f = JSON.parse(d.toString('utf8'));
      if (f.type === 'ready') resolve({ ws, frames: (cb) => (listener = cb) });
      else listener(f);
    });
    ws.once('error', reject);
  });
}

serveRequests({
  async fill(req) {
    const { url, count, textBytes, window } = req as { url: string; count: number; textBytes: number; window: number };
    const res = await fetch(`${url}/v1/conversations`, {
      method: 'POST',
      headers: { authorization: `Bearer ${signBenchToken('writer')}`, 'content-type': 'application/json' },
      body: JSON.stringify({ title: 'catch-up', members: ['reader'] }),
    });
    const { id } = (await res.json()) as { id: string };
    const { ws, frames } = await open(url, 'writer');
    const text = 'm'.repeat(textBytes);
    let sent = 0;
    let acked = 0;
    await new Promise<void>((resolve, reject) => {
      const send = () => {
        sent++;
        ws.send(JSON.stringify({ type: 'command', id: randomUUID(), command: { type: 'PostMessage', conversationId: id, text: `${sent} ${text}` } }));
      };
      frames((f) => {
        if (f.type === 'error') return reject(new Error(JSON.stringify(f)));
        if (f.type !== 'ack') return;
        acked++;
        if (acked % 1000 === 0) progress({ filled: acked });
        if (acked === count) resolve();
        else if (sent < count) send();
      });
      for (let i = 0; i < Math.min(window, count); i++) send();
    });
    ws.close();
    return { conversationId: id };
  },

  async ws(req) {
    const { url, conversationId, count, deflate } = req as { url: string; conversationId: string; count: number; deflate?: boolean };
    const t0 = performance.now();
    const { ws, frames } = await open(url, 'reader', deflate ?? true);
    let expected = 2; // seq 1 is ConversationCreated, which the reader had
    await new Promise<void>((resolve, reject) => {
      frames((f) => {
        if (f.type === 'event' || f.type === 'events') {
          for (const e of f.type === 'event' ? [f.event] : f.events) {
            if (e.seq !== expected || e.type !== 'MessagePosted') reject(new Error(`got seq ${e.seq}, expected ${expected}`));
            expected++;
          }
        } else if (f.type === 'caught-up') {
          if (expected - 2 !== count) reject(new Error(`caught-up after ${expected - 2} of ${count}`));
          else resolve();
        } else if (f.type === 'behind' || f.type === 'error') reject(new Error(JSON.stringify(f)));
      });
      ws.send(JSON.stringify({ type: 'subscribe', conversations: [{ conversationId, afterSeq: 1 }] }));
    });
    const seconds = (performance.now() - t0) / 1000;
    ws.close();
    return { seconds };
  },

  async http(req) {
    const { url, conversationId, count, pageSize } = req as { url: string; conversationId: string; count: number; pageSize: number };
    const headers = { authorization: `Bearer ${signBenchToken('reader')}` };
    const t0 = performance.now();
    let after = 1;
    let got = 0;
    for (;;) {
      const res = await fetch(`${url}/v1/conversations/${conversationId}/messages?after=${after}&limit=${pageSize}`, { headers });
      if (!res.ok) throw new Error(`page after ${after}: ${res.status} ${await res.text()}`);
      const { messages } = (await res.json()) as { messages: Array<{ seq: number }> };
      for (const m of messages) {
        if (m.seq !== after + 1) throw new Error(`got seq ${m.seq}, expected ${after + 1}`);
        after = m.seq;
        got++;
      }
      if (messages.length < pageSize) break;
    }
    if (got !== count) throw new Error(`paged ${got} of ${count}`);
    return { seconds: (performance.now() - t0) / 1000 };
  },
});
