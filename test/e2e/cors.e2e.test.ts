/** Browser apps on another origin (@fastify/cors): the listed origins only, preflights before auth, Vary merged. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NodeExtension } from '../../engine/index.js';
import { startTestNode, tokenFor, type TestNode } from '../helpers/node.js';

/** A route of an app's own that varies on something else too, as compression or content negotiation would. */
const negotiating: NodeExtension = {
  name: 'negotiating',
  register: ({ app }) => {
    app.get('/v1/negotiated', async (_request, reply) => {
      reply.header('vary', 'Accept-Encoding, Accept-Language');
      return { ok: true };
    });
  },
};

let node: TestNode;
beforeAll(async () => {
  node = await startTestNode({ corsOrigins: ['https://app.example'], extensions: [negotiating], rateLimitReadsPerUser: { perSecond: 0.001, burst: 5 } });
});
afterAll(async () => {
  await node.destroy();
});

describe('CORS', () => {
  it('answers a preflight from an allowed origin without a token', async () => {
    const res = await fetch(`${node.url}/v1/conversations`, {
      method: 'OPTIONS',
      headers: { origin: 'https://app.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type' },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe('https://app.example');
    expect(res.headers.get('access-control-allow-headers')).toContain('authorization');
    expect(res.headers.get('access-control-allow-methods')).toContain('POST');
  });

  it('marks responses for allowed origins only, errors included', async () => {
    const ok = await fetch(`${node.url}/v1/conversations`, {
      headers: { origin: 'https://app.example', authorization: `Bearer ${tokenFor('alice')}` },
    });
    expect(ok.status).toBe(200);
    expect(ok.headers.get('access-control-allow-origin')).toBe('https://app.example');
    const denied = await fetch(`${node.url}/v1/conversations`, { headers: { origin: 'https://app.example' } });
    expect(denied.status).toBe(401);
    expect(denied.headers.get('access-control-allow-origin')).toBe('https://app.example');
    const other = await fetch(`${node.url}/v1/conversations`, {
      headers: { origin: 'https://evil.example', authorization: `Bearer ${tokenFor('alice')}` },
    });
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
    const preflight = await fetch(`${node.url}/v1/conversations`, {
      method: 'OPTIONS',
      headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' },
    });
    expect(preflight.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('keeps Origin in Vary beside what a route varies on, once', async () => {
    const res = await fetch(`${node.url}/v1/negotiated`, { headers: { origin: 'https://app.example', authorization: `Bearer ${tokenFor('vera')}` } });
    expect(res.status).toBe(200);
    const vary = (res.headers.get('vary') ?? '').split(',').map((t) => t.trim().toLowerCase());
    expect(vary.sort()).toEqual(['accept-encoding', 'accept-language', 'origin']);
    const plain = await fetch(`${node.url}/v1/conversations`, { headers: { origin: 'https://app.example', authorization: `Bearer ${tokenFor('vera')}` } });
    expect(plain.headers.get('vary')?.toLowerCase()).toBe('origin');
  });

  it('lets a page read Retry-After on a 429', async () => {
    const headers = { origin: 'https://app.example', authorization: `Bearer ${tokenFor('rita')}` };
    let res = await fetch(`${node.url}/v1/conversations`, { headers });
    for (let i = 0; i < 10 && res.status === 200; i++) {
      await res.arrayBuffer();
      res = await fetch(`${node.url}/v1/conversations`, { headers });
    }
    expect(res.status).toBe(429);
    expect(res.headers.get('access-control-allow-origin')).toBe('https://app.example');
    expect(res.headers.get('access-control-expose-headers')?.toLowerCase()).toContain('retry-after');
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
  });
});
