/**
 * One per-user budget across every door: HTTP writes, /v1/ws frames and /v1/sync sockets
 * take from the same bucket, so a user on all three at once gets the configured rate in
 * total; reads have a budget of their own; every HTTP refusal is a 429 with Retry-After.
 */
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLOSE, type ServerFrame } from '../../protocol/index.js';
import { api } from '../helpers/http.js';
import { startTestNode, tokenFor, type TestNode } from '../helpers/node.js';
import { connectWs } from '../helpers/ws-client.js';

/** A burst to spend and a refill so slow (one token per 1000 s) that no token comes back during a test. */
const BURST = 20;
const TRICKLE = 0.001;

let node: TestNode;
beforeAll(async () => {
  node = await startTestNode({
    rateLimitPerUser: { perSecond: TRICKLE, burst: BURST },
    rateLimitPerConnection: { perSecond: 0, burst: 0 },
    rateLimitReadsPerUser: { perSecond: 0.5, burst: 3 },
  });
});
afterAll(async () => {
  await node.destroy();
});

async function request(method: string, path: string, userId: string, body?: unknown): Promise<Response> {
  const res = await fetch(node.url + path, {
    method,
    headers: { authorization: `Bearer ${tokenFor(userId)}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  await res.arrayBuffer();
  return res;
}

function openSync(docName: string, userId: string): Promise<{ code: number; reason: string }> {
  const ws = new WebSocket(`${node.url.replace('http', 'ws')}/v1/sync/${docName}`, { headers: { authorization: `Bearer ${tokenFor(userId)}` } });
  return new Promise((resolve, reject) => {
    ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() }));
    ws.once('error', reject);
  });
}

describe('one budget per user', () => {
  it('gives a user posting over HTTP and WebSocket at once the configured rate in total, and the sync socket none past it', async () => {
    const { body: c } = await api(node.url, tokenFor('owner')).post('/v1/conversations', { title: 'Budget', members: ['bob'] });
    const socket = await connectWs(node.url, tokenFor('bob')); // opening it takes one token
    const N = 15;
    const replies = new Promise<ServerFrame[]>((resolve) => {
      const got: ServerFrame[] = [];
      socket.ws.on('message', (data) => {
        const f = JSON.parse(data.toString()) as ServerFrame;
        if (f.type === 'ack' || f.type === 'error') got.push(f);
        if (got.length === N) resolve(got);
      });
    });
    const http: Promise<Response>[] = [];
    for (let i = 0; i < N; i++) {
      socket.send({ type: 'command', id: `ws${i}`, command: { type: 'PostMessage', conversationId: c.id, text: `ws ${i}` } });
      http.push(request('POST', `/v1/conversations/${c.id}/messages`, 'bob', { clientMessageId: `http${i}`, text: `http ${i}` }));
    }
    const responses = await Promise.all(http);
    const frames = await replies;

    const httpOk = responses.filter((r) => r.status < 300).length;
    const refused = responses.filter((r) => r.status === 429);
    const wsOk = frames.filter((f) => f.type === 'ack').length;
    expect(frames.filter((f) => f.type === 'error').every((f) => f.type === 'error' && f.code === 'rate_limited')).toBe(true);
    expect(httpOk + refused.length).toBe(N);
    // Separate buckets let 15 + 14 through; one budget lets the burst through, less the socket.
    expect(httpOk + wsOk).toBe(BURST - 1);
    for (const r of refused) expect(Number(r.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    // A document socket takes from the same budget: spent, it is refused with the transient close.
    expect(await openSync(`notes:${c.id}`, 'bob')).toEqual({ code: CLOSE.tryAgainLater, reason: 'rate_limited' });
    socket.close();
  });

  it('limits reads on their own budget, answers 429 with Retry-After, and lets the reader in once that time has passed', async () => {
    for (let i = 0; i < 3; i++) expect((await request('GET', '/v1/conversations', 'carol')).status).toBe(200);
    const refused = await request('GET', '/v1/conversations', 'carol');
    expect(refused.status).toBe(429);
    const retryAfter = Number(refused.headers.get('retry-after'));
    // 0.5 reads a second and an empty bucket: two seconds, or one if the node paused a second.
    expect([1, 2]).toContain(retryAfter);
    // Reads and writes are separate budgets: carol can still write.
    expect((await request('POST', '/v1/conversations', 'carol', { title: 'Still writing', members: [] })).status).toBe(201);
    await new Promise((r) => setTimeout(r, retryAfter * 1000));
    expect((await request('GET', '/v1/conversations', 'carol')).status).toBe(200);
  });

  it('gives a refused request the coded error body', async () => {
    for (let i = 0; i < 3; i++) await request('GET', '/v1/conversations', 'dave');
    const res = await fetch(`${node.url}/v1/conversations`, { headers: { authorization: `Bearer ${tokenFor('dave')}` } });
    expect(res.status).toBe(429);
    expect(await res.json()).toMatchObject({ code: 'rate_limited' });
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
  });
});
