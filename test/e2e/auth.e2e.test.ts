/** Authentication and authorization over real HTTP and WebSockets. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLOSE } from '../../protocol/index.js';
import { signToken } from '../../engine/index.js';
import { api } from '../helpers/http.js';
import { startTestNode, tokenFor, type TestNode } from '../helpers/node.js';
import { connectWs } from '../helpers/ws-client.js';

let node: TestNode;
let conversationId: string;

beforeAll(async () => {
  node = await startTestNode({ authTimeoutSeconds: 1 });
  conversationId = (await api(node.url, tokenFor('alice')).post('/v1/conversations', { title: 'Private', members: ['bob'] })).body.id;
});
afterAll(async () => {
  await node.destroy();
});

describe('authentication', () => {
  it('serves /health and /ready without a token and nothing else', async () => {
    const health = await api(node.url).get('/health');
    expect(health).toMatchObject({ status: 200, body: { status: 'ok', store: 'sqlite', nodeId: node.config.nodeId } });
    const ready = await api(node.url).get('/ready');
    expect(ready).toMatchObject({ status: 200, body: { status: 'ready', nodeId: node.config.nodeId, failed: [] } });
    for (const path of ['/v1/conversations', `/v1/conversations/${conversationId}/messages`, '/metrics', '/docs/json']) {
      expect(await api(node.url).get(path)).toEqual({ status: 401, body: { code: 'unauthorized', message: expect.any(String) } });
    }
  });

  it('refuses forged, expired, malformed and alg-none tokens with 401', async () => {
    const forged = signToken('another-secret-of-32-characters!!', { sub: 'alice' });
    const expired = tokenFor('alice', { ttlSeconds: -10 });
    const parts = tokenFor('alice').split('.');
    const none = `${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${parts[1]}.`;
    const swapped = `${parts[0]}.${Buffer.from('{"sub":"mallory","iat":1}').toString('base64url')}.${parts[2]}`;
    for (const t of [forged, expired, none, swapped, 'garbage', '']) {
      expect((await api(node.url, t).get('/v1/conversations')).status).toBe(401);
    }
  });

  it('closes a WebSocket without a valid token with 4401, and one that never authenticates with 4408', async () => {
    const bad = await connectWs(node.url, 'not-a-token');
    expect((await bad.closed).code).toBe(CLOSE.unauthorized);
    const silent = await connectWs(node.url);
    expect((await silent.closed).code).toBe(CLOSE.authTimeout);
    const wrongFirst = await connectWs(node.url);
    wrongFirst.send({ type: 'ping' });
    expect((await wrongFirst.closed).code).toBe(CLOSE.unauthorized);
  });

  it('accepts the token in an auth frame, so it stays out of URLs', async () => {
    const s = await connectWs(node.url, tokenFor('bob'), { via: 'frame' });
    expect(await s.next((f) => f.type === 'ready')).toMatchObject({ userId: 'bob' });
    s.close();
  });

  it('answers frames sent while the token is still being verified, in order', async () => {
    // Verification is asynchronous (jose): frames that arrive meanwhile are held, not dropped.
    const viaFrame = await connectWs(node.url);
    viaFrame.ws.send(JSON.stringify({ type: 'auth', token: tokenFor('bob') }));
    viaFrame.send({ type: 'ping', id: 'early-1' });
    viaFrame.send({ type: 'ping', id: 'early-2' });
    await viaFrame.next((f) => f.type === 'pong' && f.id === 'early-2');
    expect(viaFrame.types).toEqual(['ready', 'pong', 'pong']);
    viaFrame.close();
    const viaHeader = await connectWs(node.url, tokenFor('bob'));
    viaHeader.send({ type: 'ping', id: 'at-once' });
    await viaHeader.next((f) => f.type === 'pong' && f.id === 'at-once');
    expect(viaHeader.types).toEqual(['ready', 'pong']);
    viaHeader.close();
  });
});

describe('authorization', () => {
  it('gives non-members 403 and the same answer for conversations that do not exist', async () => {
    const eve = api(node.url, tokenFor('eve'));
    const answers = await Promise.all([
      eve.get(`/v1/conversations/${conversationId}/messages`),
      eve.get('/v1/conversations/00000000-0000-0000-0000-000000000000/messages'),
      eve.post(`/v1/conversations/${conversationId}/messages`, { clientMessageId: 'x', text: 'let me in' }),
      eve.post('/v1/conversations/00000000-0000-0000-0000-000000000000/messages', { clientMessageId: 'y', text: 'hi' }),
      eve.post(`/v1/conversations/${conversationId}/members`, { userId: 'eve' }),
      eve.get(`/v1/conversations/${conversationId}/presence`),
    ]);
    for (const a of answers) expect(a).toEqual({ status: 403, body: { code: 'forbidden', message: 'You are not allowed to do this' } });
    expect((await eve.get('/v1/conversations')).body.conversations).toEqual([]);
    const version = await node.store.streamVersion(`conversation-${conversationId}`);
    expect(version).toBe(1);
  });

  it('refuses a subscription to a conversation the user is not in, without closing the socket', async () => {
    const s = await connectWs(node.url, tokenFor('eve'));
    s.send({ type: 'subscribe', conversations: [{ conversationId, afterSeq: 0 }] });
    expect(await s.next((f) => f.type === 'error')).toMatchObject({ code: 'forbidden', conversationId });
    s.send({ type: 'ping', id: 'still-there' });
    await s.next((f) => f.type === 'pong');
    expect(s.frames.some((f) => f.type === 'event')).toBe(false);
    s.close();
  });
});
