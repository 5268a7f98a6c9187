/**
 * Bad input gets a coded error and changes nothing; the connection stays up, and so do
 * the node and everyone else.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLOSE } from '../../protocol/index.js';
import { eventually } from '../helpers/eventually.js';
import { api } from '../helpers/http.js';
import { startTestNode, tokenFor, type TestNode } from '../helpers/node.js';
import { connectWs } from '../helpers/ws-client.js';

let node: TestNode;
let conversationId: string;
const stream = () => `conversation-${conversationId}`;

beforeAll(async () => {
  node = await startTestNode({
    maxTextBytes: 1024,
    rateLimitPerConnection: { perSecond: 20, burst: 40 },
    rateLimitPerUser: { perSecond: 1000, burst: 1000 },
  });
  conversationId = (await api(node.url, tokenFor('alice')).post('/v1/conversations', { title: 'Bad', members: ['bob'] })).body.id;
});
afterAll(async () => {
  await node.destroy();
});

describe('bad input over WebSocket', () => {
  it('answers each bad frame with a coded error, appends nothing and keeps the socket open', async () => {
    const s = await connectWs(node.url, tokenFor('alice'));
    await s.next((f) => f.type === 'ready');
    // The socket's own presence event goes in first; nothing after it may be appended.
    await eventually(async () =>
      expect((await api(node.url, tokenFor('alice')).get(`/v1/conversations/${conversationId}/presence`)).body.members[0].online).toBe(true),
    );
    const before = await node.store.headPosition();
    const cases: Array<[string | Buffer, string]> = [
      ['{not json', 'invalid_json'],
      [Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), 'invalid_utf8'],
      ['[1,2,3]', 'invalid_request'],
      ['{"type":"launch-missiles"}', 'unknown_command'],
      [JSON.stringify({ type: 'command', id: 'x1', command: { type: 'Explode', conversationId } }), 'unknown_command'],
      [JSON.stringify({ type: 'command', id: 'x2', command: { type: 'PostMessage', conversationId, text: 42 } }), 'invalid_request'],
      [JSON.stringify({ type: 'command', id: 'x3', command: { type: 'PostMessage', conversationId, text: 'x'.repeat(1025) } }), 'text_too_long'],
      [JSON.stringify({ type: 'command', id: 'x4', command: { type: 'PostMessage', conversationId, text: 'é'.repeat(600) } }), 'text_too_long'],
      [JSON.stringify({ type: 'command', id: 'x5', command: { type: 'PostMessage', conversationId, text: 'hi', extra: 1 } }), 'invalid_request'],
      [JSON.stringify({ type: 'subscribe', conversations: [{ conversationId, afterSeq: -1 }] }), 'invalid_request'],
      [JSON.stringify({ type: 'command', id: 'x6', command: { type: 'MarkRead', conversationId, seq: 1.5 } }), 'invalid_request'],
    ];
    for (const [payload, code] of cases) {
      const from = s.frames.length;
      s.send(payload);
      expect(await s.next((f) => f.type === 'error', 2000, from)).toMatchObject({ code });
    }
    s.ws.send(Buffer.from('{"type":"ping"}'), { binary: true });
    expect(await s.next((f) => f.type === 'error' && f.message.includes('Binary'))).toMatchObject({ code: 'invalid_request' });
    expect(await node.store.headPosition()).toBe(before);
    expect(await s.command('ok', { type: 'PostMessage', conversationId, text: 'still here' })).toMatchObject({ type: 'ack' });
    s.close();
  });

  it('stores text verbatim: markup and SQL come back byte-identical', async () => {
    const s = await connectWs(node.url, tokenFor('alice'));
    const payloads = [
      '<script>alert(document.cookie)</script>',
      "Robert'); DROP TABLE events;--",
      '" OR 1=1 --',
      '\u0000\u202e zero and bidi 🏳️‍🌈',
    ];
    for (const [i, text] of payloads.entries()) {
      expect(await s.command(`v${i}`, { type: 'PostMessage', conversationId, text })).toMatchObject({ type: 'ack' });
    }
    const page = await api(node.url, tokenFor('bob')).get(`/v1/conversations/${conversationId}/messages?limit=1000`);
    const texts = page.body.messages.map((m: { text: string }) => m.text);
    for (const t of payloads) expect(texts).toContain(t);
    s.close();
  });

  it('refuses a command id reused for a different command', async () => {
    const s = await connectWs(node.url, tokenFor('alice'));
    await s.command('same-id', { type: 'PostMessage', conversationId, text: 'one' });
    const version = await node.store.streamVersion(stream());
    expect(await s.command('same-id', { type: 'PostMessage', conversationId, text: 'two' })).toMatchObject({ code: 'idempotency_mismatch' });
    expect(await node.store.streamVersion(stream())).toBe(version);
    s.close();
  });

  it('rate-limits a flooding client, then disconnects it, while others carry on', async () => {
    const flooder = await connectWs(node.url, tokenFor('alice'));
    const bystander = await connectWs(node.url, tokenFor('bob'));
    bystander.send({ type: 'subscribe', conversations: [{ conversationId, afterSeq: 0 }] });
    await bystander.next((f) => f.type === 'caught-up');
    for (let i = 0; i < 400; i++) flooder.send({ type: 'ping', id: `p${i}` });
    expect(await flooder.next((f) => f.type === 'error' && f.code === 'rate_limited')).toBeTruthy();
    expect((await flooder.closed).code).toBe(CLOSE.policyViolation);
    const ack = await bystander.command('bystander-1', { type: 'PostMessage', conversationId, text: 'unaffected' });
    expect(ack).toMatchObject({ type: 'ack' });
  });

  it('closes a socket that sends a frame over the size limit (1009) without affecting the node', async () => {
    const s = await connectWs(node.url, tokenFor('alice'));
    s.send('x'.repeat(70 * 1024));
    expect((await s.closed).code).toBe(1009);
    expect((await api(node.url).get('/health')).status).toBe(200);
  });
});

describe('bad input over HTTP', () => {
  it('answers malformed, mistyped and oversized bodies with coded 4xx and appends nothing', async () => {
    const alice = api(node.url, tokenFor('alice'));
    // Presence events of sockets closed by earlier tests may still land; the conversation must not change.
    const before = await node.store.streamVersion(stream());
    const path = `/v1/conversations/${conversationId}/messages`;
    expect(await alice.post(path, '{"clientMessageId":')).toMatchObject({ status: 400, body: { code: 'invalid_json' } });
    expect(await alice.post(path, { clientMessageId: 'a', text: 5 })).toMatchObject({ status: 400, body: { code: 'invalid_request' } });
    expect(await alice.post(path, { text: 'no id' })).toMatchObject({ status: 400, body: { code: 'invalid_request' } });
    expect(await alice.post(path, { clientMessageId: 'b', text: 'x'.repeat(2000) })).toMatchObject({ status: 413, body: { code: 'text_too_long' } });
    expect(await alice.post(path, { clientMessageId: 'c', text: 'x'.repeat(100_000) })).toMatchObject({ status: 413, body: { code: 'frame_too_large' } });
    expect(await alice.get(`${path}?limit=abc`)).toMatchObject({ status: 400, body: { code: 'invalid_request' } });
    expect(await alice.get('/v1/nowhere')).toMatchObject({ status: 404, body: { code: 'not_found' } });
    expect(await node.store.streamVersion(stream())).toBe(before);
  });
});
