/**
 * A subscriber that stops reading costs the node a bounded send buffer however much is
 * posted: its live frames turn into paced catch-up from its last delivered seq (gap-free
 * and in order once it reads again), and a socket that stays unable to take its catch-up
 * is closed with 4504 and catches up gap-free after reconnecting. Readers who keep up
 * get everything, in order, meanwhile.
 *
 * The slow reader is a real socket whose TCP stream is paused (`ws._socket.pause()`), so
 * the kernel buffers fill and then the node's (`bufferedAmount`), as with a stalled phone.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { CLOSE } from '../../protocol/index.js';
import { eventually } from '../helpers/eventually.js';
import { api } from '../helpers/http.js';
import { startTestNode, TEST_METRICS_TOKEN, tokenFor, type TestNode } from '../helpers/node.js';
import { postMany } from '../helpers/bulk-post.js';

const NO_LIMIT = { perSecond: 0, burst: 0 };

/** A reader that keeps only the seqs of one conversation, so the test process stays small. */
interface Reader {
  ws: WebSocket;
  seqs: number[];
  errors: Array<{ code: string; conversationId?: string }>;
  caughtUp: number;
  closed: Promise<number>;
  pause(): void;
  resume(): void;
}

async function reader(url: string, user: string, conversationId: string, afterSeq: number): Promise<Reader> {
  const ws = new WebSocket(url.replace(/^http/, 'ws') + '/v1/ws', { headers: { authorization: `Bearer ${tokenFor(user)}` } });
  const r: Reader = {
    ws,
    seqs: [],
    errors: [],
    caughtUp: -1,
    closed: new Promise((resolve) => ws.once('close', (code) => resolve(code))),
    pause: () => (ws as unknown as { _socket: { pause(): void } })._socket.pause(),
    resume: () => (ws as unknown as { _socket: { resume(): void } })._socket.resume(),
  };
  ws.on('message', (data) => {
    const f = JSON.parse(data.toString());
    if (f.type === 'event' && f.event.conversationId === conversationId) r.seqs.push(f.event.seq);
    else if (f.type === 'events' && f.conversationId === conversationId) for (const e of f.events) r.seqs.push(e.seq);
    else if (f.type === 'caught-up' && f.conversationId === conversationId) r.caughtUp = f.seq;
    else if (f.type === 'error') r.errors.push(f);
  });
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  ws.send(JSON.stringify({ type: 'subscribe', conversations: [{ conversationId, afterSeq }] }));
  // After a reconnect the catch-up can be megabytes: generous on a loaded machine.
  await eventually(() => expect(r.caughtUp).toBeGreaterThanOrEqual(afterSeq), 30_000);
  return r;
}


const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

async function slowConsumerCount(node: TestNode, action: 'close' | 'fallback'): Promise<number> {
  const text: string = (await api(node.url, TEST_METRICS_TOKEN).get('/metrics')).body;
  const line = text.split('\n').find((l) => l.startsWith('parley_ws_slow_consumer_total') && l.includes(`action="${action}"`));
  return line ? Number(line.split(' ').pop()) : 0;
}

/** The largest send buffer one of the node's sockets held, and all of them together, sampled while `during` runs. */
async function largestSendBuffer<T>(node: TestNode, during: () => Promise<T>): Promise<{ result: T; largest: number; total: number }> {
  let largest = 0;
  let total = 0;
  const sample = () => {
    let sum = 0;
    for (const c of node.app.websocketServer.clients) {
      largest = Math.max(largest, c.bufferedAmount);
      sum += c.bufferedAmount;
    }
    total = Math.max(total, sum);
  };
  const timer = setInterval(sample, 5);
  try {
    const result = await during();
    sample();
    return { result, largest, total };
  } finally {
    clearInterval(timer);
  }
}

describe('a subscriber that stops reading', () => {
  const MAX_SEND_BUFFER = 256 * 1024;
  let node: TestNode;
  let conversationId: string;
  beforeAll(async () => {
    node = await startTestNode({ maxSendBufferBytes: MAX_SEND_BUFFER, rateLimitPerConnection: NO_LIMIT, rateLimitPerUser: NO_LIMIT });
    conversationId = (await api(node.url, tokenFor('alice')).post('/v1/conversations', { title: 'Firehose', members: ['bob', 'carol', 'dave'] })).body.id;
  });
  afterAll(async () => {
    await node.destroy();
  });

  it('costs the node a bounded buffer each, and gets everything gap-free and in order once it reads again', async () => {
    // About 12 MiB: several times what the kernel's socket buffers absorb for a paused reader.
    const COUNT = 1000;
    const SIZE = 12 * 1024;
    const carol = await reader(node.url, 'carol', conversationId, 0);
    const slow = [await reader(node.url, 'bob', conversationId, 0), await reader(node.url, 'dave', conversationId, 0)];
    for (const r of slow) r.pause();
    const rssBefore = process.memoryUsage().rss;
    const { result: head, largest, total } = await largestSendBuffer(node, () => postMany(node.url, 'alice', conversationId, COUNT, SIZE, 'firehose'));
    const rssGrowth = process.memoryUsage().rss - rssBefore;
    // The honest reader got every message, in order, while the slow one was not reading.
    await eventually(() => expect(carol.seqs.length).toBe(head), 30_000);
    expect(carol.seqs).toEqual(range(1, head));
    console.log(
      `slow consumers: ${COUNT} × ${SIZE / 1024} KiB posted; largest node send buffer ${(largest / 1024).toFixed(0)} KiB, ` +
        `all sockets ${(total / 1024).toFixed(0)} KiB ` +
        `(bound ${MAX_SEND_BUFFER / 1024} KiB, hard ${(2 * MAX_SEND_BUFFER) / 1024} KiB); test process RSS growth ${(rssGrowth / 2 ** 20).toFixed(1)} MiB`,
    );
    // Without the bound the node kept every frame the paused socket did not take (megabytes here).
    expect(largest).toBeLessThanOrEqual(2 * MAX_SEND_BUFFER);
    expect(total).toBeLessThanOrEqual(2 * 2 * MAX_SEND_BUFFER);
    // Loose, for gross leaks only: this process also holds the clients, SQLite, the search
    // index of 12 MiB of random text and compression contexts; the buffers above are the precise bound.
    expect(rssGrowth).toBeLessThan(300 * 2 ** 20);
    expect(await slowConsumerCount(node, 'fallback')).toBeGreaterThan(0);
    // Typing is relayed at once to every subscriber, but never piles up for one not reading.
    const typist = await reader(node.url, 'alice', conversationId, head);
    const typed = await largestSendBuffer(node, async () => {
      for (let i = 0; i < 5000; i++) typist.ws.send(JSON.stringify({ type: 'typing', conversationId }));
      typist.ws.send(JSON.stringify({ type: 'ping', id: 'typed' }));
      await new Promise((resolve) => typist.ws.on('message', (d) => String(d).includes('"pong"') && resolve(undefined)));
    });
    expect(typed.largest).toBeLessThanOrEqual(2 * MAX_SEND_BUFFER);
    typist.ws.close();
    // They read again: everything, once each, in order, and they stay live afterwards.
    for (const r of slow) r.resume();
    for (const r of slow) {
      await eventually(() => expect(r.seqs.length).toBe(head), 30_000);
      expect(r.seqs).toEqual(range(1, head));
    }
    const after = await postMany(node.url, 'alice', conversationId, 1, 10, 'after');
    for (const r of slow) await eventually(() => expect(r.seqs[r.seqs.length - 1]).toBe(after));
    expect(await slowConsumerCount(node, 'close')).toBe(0);
    for (const r of [...slow, carol]) r.ws.close();
  }, 60_000);
});

describe('a subscriber that never takes its catch-up', () => {
  let node: TestNode;
  let conversationId: string;
  beforeAll(async () => {
    node = await startTestNode({
      maxSendBufferBytes: 64 * 1024,
      slowConsumerSeconds: 1,
      rateLimitPerConnection: NO_LIMIT,
      rateLimitPerUser: NO_LIMIT,
    });
    conversationId = (await api(node.url, tokenFor('alice')).post('/v1/conversations', { title: 'Stalled', members: ['bob'] })).body.id;
  });
  afterAll(async () => {
    await node.destroy();
  });

  it('is closed with 4504 and catches up gap-free from its last seq after reconnecting', async () => {
    const bob = await reader(node.url, 'bob', conversationId, 0);
    bob.pause();
    // Post until the node gives up on the paused socket (bounded: it must happen well before).
    let head = bob.caughtUp;
    for (let round = 0; round < 30 && (await slowConsumerCount(node, 'close')) === 0; round++) {
      head = await postMany(node.url, 'alice', conversationId, 100, 8192, `stall-${round}`);
    }
    expect(await slowConsumerCount(node, 'close')).toBe(1);
    // Posted after the close: only the catch-up after reconnecting can bring these.
    head = await postMany(node.url, 'alice', conversationId, 50, 100, 'later');
    bob.resume();
    expect(await bob.closed).toBe(CLOSE.slowConsumer);
    const last = bob.seqs[bob.seqs.length - 1]!;
    expect(bob.seqs).toEqual(range(1, last));
    expect(last).toBeLessThan(head);
    const again = await reader(node.url, 'bob', conversationId, last);
    await eventually(() => expect(again.caughtUp).toBe(head), 20_000);
    expect([...bob.seqs, ...again.seqs]).toEqual(range(1, head));
    again.ws.close();
  }, 60_000);
});
