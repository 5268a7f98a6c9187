/**
 * Attacks an outside tester ran against a real node that the issue-9/10 suites did not
 * cover, one regression test each:
 *
 * - HTTP slowloris: headers, then a body one byte at a time. Fastify turns Node's request
 *   timeout off, so such a connection (with or without a token: a 401 is answered but the
 *   body is still read) was held for ever and a trickle of them used up the node's file
 *   descriptors. Now the request must arrive within the request timeout (30 s); a
 *   long-lived response (the admin feed) is not cut by it.
 * - One token, many sockets: a user could hold any number of sockets on /v1/ws and
 *   /v1/sync (~60 KB each, 1,500 took a node from 99 to 187 MB), and connect/close in a
 *   loop appended a UserOnline/UserOffline pair per round with no rate limit (300 rounds,
 *   537 events in 4.5 s). Sockets per user are bounded and each one opened takes from the
 *   user's rate; past either, a coded error and a transient close (4503).
 * - A client's X-Request-Id became the correlation id stored in the metadata of every
 *   event the request appended (and logged on every line): 12 KB of it went into the log
 *   for good, past the text bound. Only an id-like value (≤ 128 characters) is adopted.
 */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { CLOSE } from '../../protocol/index.js';
import { eventually } from '../helpers/eventually.js';
import { api } from '../helpers/http.js';
import { startTestNode, tokenFor, type TestNode } from '../helpers/node.js';
import { connectWs, type TestSocket } from '../helpers/ws-client.js';

let node: TestNode;

beforeAll(async () => {
  node = await startTestNode();
});
afterAll(async () => {
  await node.destroy();
});

function port(): number {
  return Number(new URL(node.url).port);
}

/** A connection that sends a request's headers and then its body one byte every 2 s. */
function trickle(headers: string): { closed: () => boolean; firstLine: () => string; stop: () => void } {
  const socket = net.connect(port(), '127.0.0.1');
  let closed = false;
  let received = '';
  socket.on('data', (d) => (received += d.toString('latin1')));
  socket.on('close', () => (closed = true));
  socket.on('error', () => undefined);
  socket.write(headers);
  const timer = setInterval(() => {
    if (!socket.destroyed) socket.write('a');
  }, 2000);
  return {
    closed: () => closed,
    firstLine: () => received.split('\r\n')[0] ?? '',
    stop: () => {
      clearInterval(timer);
      socket.destroy();
    },
  };
}

describe('HTTP slowloris', () => {
  it('a body trickled a byte at a time is cut off (token or not), a long feed is not', async () => {
    const body = (auth: string) =>
      `POST /v1/conversations HTTP/1.1\r\nHost: x\r\n${auth}Content-Type: application/json\r\nContent-Length: 60000\r\n\r\n{"title":"`;
    const anonymous = trickle(body(''));
    const member = trickle(body(`Authorization: Bearer ${tokenFor('mallory')}\r\n`));
    // A follow feed is one request whose response lasts: it must outlive the request timeout.
    const feed = await fetch(`${node.url}/v1/admin/feed?follow=true`, { headers: { authorization: `Bearer ${tokenFor('ops', { role: 'admin' })}` } });
    expect(feed.status).toBe(200);
    const reader = feed.body!.getReader();
    try {
      await eventually(() => expect(anonymous.closed() && member.closed()).toBe(true), 50_000, 500);
      expect(anonymous.firstLine()).toContain('401');
      // The honest client is served meanwhile and after.
      const created = await api(node.url, tokenFor('alice')).post('/v1/conversations', { title: 'honest', members: [] });
      expect(created.status).toBe(201);
      // The feed, opened before the timeout went by, still streams: it carries the new event.
      let streamed = '';
      while (!streamed.includes(created.body.id)) {
        const next = await reader.read();
        expect(next.done).toBe(false);
        streamed += new TextDecoder().decode(next.value);
      }
    } finally {
      anonymous.stop();
      member.stop();
      await reader.cancel().catch(() => undefined);
    }
  }, 60_000);
});

describe('one token, many sockets', () => {
  let small: TestNode;
  beforeAll(async () => {
    small = await startTestNode({ maxSocketsPerUser: 4, rateLimitPerUser: { perSecond: 2, burst: 30 } });
  });
  afterAll(async () => {
    await small.destroy();
  });

  async function syncSocket(user: string): Promise<WebSocket> {
    const ws = new WebSocket(`${small.url.replace(/^http/, 'ws')}/v1/sync/draft:${user}:c1`, { headers: { authorization: `Bearer ${tokenFor(user)}` } });
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    return ws;
  }

  it('a user holds at most maxSocketsPerUser sockets on /v1/ws; others are unaffected; a freed place is reusable', async () => {
    const held: TestSocket[] = [];
    for (let i = 0; i < 4; i++) {
      const s = await connectWs(small.url, tokenFor('mallory'));
      await s.next((f) => f.type === 'ready');
      held.push(s);
    }
    const fifth = await connectWs(small.url, tokenFor('mallory'));
    const refused = await fifth.next((f) => f.type === 'error');
    expect(refused).toMatchObject({ code: 'limit_exceeded' });
    expect((await fifth.closed).code).toBe(CLOSE.tryAgainLater);
    const honest = await connectWs(small.url, tokenFor('alice'));
    await honest.next((f) => f.type === 'ready');
    held.pop()!.close();
    await eventually(async () => {
      const again = await connectWs(small.url, tokenFor('mallory'));
      try {
        await again.next((f) => f.type === 'ready' || f.type === 'error');
        expect(again.frames[0]?.type).toBe('ready');
      } finally {
        again.close();
      }
    });
    for (const s of [...held, honest]) s.close();
  });

  it('a user holds at most maxSocketsPerUser sync sockets', async () => {
    const held: WebSocket[] = [];
    for (let i = 0; i < 4; i++) held.push(await syncSocket('trudy'));
    const fifth = await syncSocket('trudy');
    const close = await new Promise<{ code: number; reason: string }>((resolve) => fifth.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
    expect(close).toEqual({ code: CLOSE.tryAgainLater, reason: 'limit_exceeded' });
    for (const ws of held) expect(ws.readyState).toBe(WebSocket.OPEN);
    for (const ws of held) ws.close();
  });

  it("connecting and closing in a loop is held to the user's rate", async () => {
    let admitted = 0;
    let limited = 0;
    for (let i = 0; i < 80; i++) {
      const s = await connectWs(small.url, tokenFor('churner'));
      const first = await s.next((f) => f.type === 'ready' || f.type === 'error');
      if (first.type === 'ready') admitted += 1;
      else if (first.type === 'error' && first.code === 'rate_limited') {
        limited += 1;
        expect((await s.closed).code).toBe(CLOSE.tryAgainLater);
      }
      s.close();
      await s.closed;
    }
    // Burst 30 and 2 per second: far fewer than 80 rounds get in within the loop.
    expect(limited).toBeGreaterThan(0);
    expect(admitted + limited).toBe(80);
  });
});

describe('X-Request-Id', () => {
  async function correlationOf(requestId: string): Promise<string> {
    const token = tokenFor('alice');
    const created = await fetch(`${node.url}/v1/conversations`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'x-request-id': requestId },
      body: JSON.stringify({ title: 'traced', members: [] }),
    });
    expect(created.status).toBe(201);
    const { id } = (await created.json()) as { id: string };
    const feed = await fetch(`${node.url}/v1/admin/feed?conversation=${id}&limit=1`, { headers: { authorization: `Bearer ${tokenFor('ops', { role: 'admin' })}` } });
    const event = JSON.parse((await feed.text()).trim()) as { metadata: { correlationId?: string } };
    return event.metadata.correlationId ?? '';
  }

  it('an id-like one is the correlation id of the events; a huge or odd one is not stored', async () => {
    expect(await correlationOf('req-abc-123')).toBe('req-abc-123');
    for (const hostile of ['Z'.repeat(12_000), 'a b', '__proto__!']) {
      const stored = await correlationOf(hostile);
      expect(stored).not.toBe(hostile);
      expect(stored.length).toBeLessThanOrEqual(128);
    }
  });
});
