/**
 * Append through the node: each writer has its own conversation and one PostMessage
 * command in flight over its WebSocket; the next goes out when the durable ack arrives.
 */
import { randomUUID } from 'node:crypto';
import { wallNow } from './histogram.js';
import { connectClient, withConcurrency, type ChatClient } from './clients.js';
import { progress, serveRequests } from './serve-requests.js';
import { signBenchToken } from '../token.js';

const ACK = Buffer.from('"type":"ack"');
const ERROR = Buffer.from('"type":"error"');
let writers: Array<{ client: ChatClient; conversationId: string }> = [];

serveRequests({
  async setup(req) {
    const url: string = req.url;
    writers = await withConcurrency(req.writers as string[], 20, async (userId) => {
      const res = await fetch(`${url}/v1/conversations`, {
        method: 'POST',
        headers: { authorization: `Bearer ${signBenchToken(userId)}`, 'content-type': 'application/json' },
        body: JSON.stringify({ title: 'append', members: [] }),
      });
      if (!res.ok) throw new Error(`create conversation: ${res.status}`);
      const { id } = (await res.json()) as { id: string };
      return { client: await connectClient('parley', url, userId, { deflate: req.deflate ?? true }), conversationId: id };
    });
    return { writers: writers.length };
  },
  async run(req) {
    const { warmupMs, durationMs, textBytes } = req as { warmupMs: number; durationMs: number; textBytes: number };
    const text = 'x'.repeat(textBytes);
    const start = wallNow();
    const from = start + warmupMs;
    const to = from + durationMs;
    let acks = 0;
    let errors = 0;
    let going = true;
    const send = (w: (typeof writers)[number]) =>
      w.client.ws.send(JSON.stringify({ type: 'command', id: randomUUID(), command: { type: 'PostMessage', conversationId: w.conversationId, text } }));
    for (const w of writers) {
      w.client.onDelivery = (frame) => {
        const isAck = frame.includes(ACK);
        if (!isAck && !frame.includes(ERROR)) return;
        const now = wallNow();
        if (isAck && now >= from && now < to) acks++;
        if (!isAck) errors++;
        if (going) send(w);
      };
      send(w);
    }
    const tick = setInterval(() => progress({ acks }), 1000);
    await new Promise((r) => setTimeout(r, warmupMs + durationMs));
    going = false;
    clearInterval(tick);
    await new Promise((r) => setTimeout(r, 500));
    return { acks, errors, seconds: durationMs / 1000 };
  },
  close() {
    for (const w of writers) w.client.close();
    writers = [];
    return {};
  },
});
