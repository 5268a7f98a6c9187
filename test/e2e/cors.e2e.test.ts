/** Browser apps on another origin: CORS for the listed origins only, preflights before auth. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestNode, tokenFor, type TestNode } from '../helpers/node.js';

let node: TestNode;
beforeAll(async () => {
  node = await startTestNode({ corsOrigins: ['https://app.example'] });
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
});
