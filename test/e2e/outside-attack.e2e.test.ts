/**
 * Attacks an outside tester ran against a real node that the issue-9/10 suites did not
 * cover, one regression test each:
 *
 * - HTTP slowloris: headers, then a body one byte at a time. Fastify turns Node's request
 *   timeout off, so such a connection (with or without a token: a 401 is answered but the
 *   body is still read) was held for ever and a trickle of them used up the node's file
 *   descriptors. Now the request must arrive within the request timeout (30 s); a
 *   long-lived response (the admin feed) is not cut by it.
 */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../helpers/eventually.js';
import { api } from '../helpers/http.js';
import { startTestNode, tokenFor, type TestNode } from '../helpers/node.js';

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
