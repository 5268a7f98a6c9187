/** Admin analytics, full-text search that respects membership, and the event feed. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api } from '../helpers/http.js';
import { startTestNode, tokenFor, type TestNode } from '../helpers/node.js';

let node: TestNode;
const admin = () => api(node.url, tokenFor('ops', { role: 'admin' }));
beforeAll(async () => {
  node = await startTestNode();
});
afterAll(async () => {
  await node.destroy();
});

describe('analytics for admins', () => {
  it('reports messages per hour, active users, median time to first reply and reactions', async () => {
    const alice = api(node.url, tokenFor('alice'));
    const bob = api(node.url, tokenFor('bob'));
    const { body: c } = await alice.post('/v1/conversations', { title: 'Stats', members: ['bob'] });
    const m1 = await alice.post(`/v1/conversations/${c.id}/messages`, { clientMessageId: 'a1', text: 'hello' });
    await alice.post(`/v1/conversations/${c.id}/messages`, { clientMessageId: 'a2', text: 'anyone?' });
    await new Promise((r) => setTimeout(r, 30));
    await bob.post(`/v1/conversations/${c.id}/messages`, { clientMessageId: 'b1', text: 'hi!' });
    await alice.post(`/v1/conversations/${c.id}/messages`, { clientMessageId: 'a3', text: 'great' });
    await bob.post(`/v1/conversations/${c.id}/messages/${m1.body.messageId}/reactions`, { emoji: '👋' });
    await alice.post(`/v1/conversations/${c.id}/messages/${m1.body.messageId}/reactions`, { emoji: '👋' });
    await alice.delete(`/v1/conversations/${c.id}/messages/${m1.body.messageId}/reactions/${encodeURIComponent('👋')}`);

    expect((await alice.get('/v1/admin/analytics')).status).toBe(403);
    const { status, body } = await admin().get(`/v1/admin/analytics?conversation=${c.id}`);
    expect(status).toBe(200);
    expect(body.messagesPerHour).toEqual([{ conversationId: c.id, hour: expect.stringMatching(/:00:00\.000Z$/), count: 4 }]);
    expect(body.activeUsersPerDay).toEqual([{ day: new Date().toISOString().slice(0, 10), users: 2 }]);
    // Two replies: bob answering alice (≥ 30 ms after her first message), alice answering bob.
    expect(body.replies).toBe(2);
    expect(body.medianTimeToFirstReplySeconds).toBeGreaterThan(0);
    expect(body.reactionsByEmoji).toEqual([{ emoji: '👋', count: 1 }]);
    expect((await admin().get('/v1/admin/analytics?from=yesterday')).body.code).toBe('invalid_request');
  });
});

describe('search', () => {
  it('finds words in messages of the caller’s conversations only, and forgets deleted ones', async () => {
    const alice = api(node.url, tokenFor('alice'));
    const carol = api(node.url, tokenFor('carol'));
    const { body: shared } = await alice.post('/v1/conversations', { title: 'Shared', members: ['carol'] });
    const { body: secret } = await alice.post('/v1/conversations', { title: 'Secret', members: [] });
    await alice.post(`/v1/conversations/${shared.id}/messages`, { clientMessageId: 's1', text: 'The zebra crossing is closed' });
    await alice.post(`/v1/conversations/${secret.id}/messages`, { clientMessageId: 's2', text: 'zebra plans, top secret' });
    const gone = await alice.post(`/v1/conversations/${shared.id}/messages`, { clientMessageId: 's3', text: 'zebras everywhere' });
    await alice.delete(`/v1/conversations/${shared.id}/messages/${gone.body.messageId}`);

    const carolHits = (await carol.get('/v1/search?q=zebra')).body.hits;
    expect(carolHits).toHaveLength(1);
    expect(carolHits[0]).toMatchObject({ conversationId: shared.id, author: 'alice', snippet: 'The [zebra] crossing is closed' });
    expect((await alice.get('/v1/search?q=zeb')).body.hits).toHaveLength(2);
    expect((await alice.get(`/v1/search?q=zebra&conversation=${secret.id}`)).body.hits).toHaveLength(1);
    // FTS syntax in user input is treated as words, never as a query.
    expect((await alice.get(`/v1/search?q=${encodeURIComponent('zebra" OR "x* NEAR(')}`)).status).toBe(200);
  });
});

describe('event feed', () => {
  it('streams events from a position as NDJSON, filtered, with schema versions', async () => {
    const alice = api(node.url, tokenFor('alice'));
    const { body: c } = await alice.post('/v1/conversations', { title: 'Feed', members: [] });
    await alice.post(`/v1/conversations/${c.id}/messages`, { clientMessageId: 'f1', text: 'one' });
    await alice.post(`/v1/conversations/${c.id}/messages`, { clientMessageId: 'f2', text: 'two' });
    expect((await alice.get('/v1/admin/feed')).status).toBe(403);
    const res = await fetch(`${node.url}/v1/admin/feed?conversation=${c.id}&types=MessagePosted`, {
      headers: { authorization: `Bearer ${tokenFor('ops', { role: 'admin' })}` },
    });
    expect(res.headers.get('content-type')).toContain('application/x-ndjson');
    const lines = (await res.text()).split('\n').filter(Boolean).map((l) => JSON.parse(l));
    expect(lines.map((e) => e.data.text)).toEqual(['one', 'two']);
    expect(lines[0]).toMatchObject({ stream: `conversation-${c.id}`, seq: 2, type: 'MessagePosted', metadata: { schemaVersion: expect.any(Number) } });
    const after = await fetch(`${node.url}/v1/admin/feed?from=${lines[0].position}&conversation=${c.id}`, {
      headers: { authorization: `Bearer ${tokenFor('ops', { role: 'admin' })}` },
    });
    expect((await after.text()).split('\n').filter(Boolean).map((l) => JSON.parse(l).seq)).toEqual([3]);
  });

  it('follows live events over Server-Sent Events and resumes from Last-Event-ID', async () => {
    const alice = api(node.url, tokenFor('alice'));
    const { body: c } = await alice.post('/v1/conversations', { title: 'Live', members: [] });
    const controller = new AbortController();
    const res = await fetch(`${node.url}/v1/admin/feed?conversation=${c.id}&follow=true`, {
      headers: { authorization: `Bearer ${tokenFor('ops', { role: 'admin' })}`, accept: 'text/event-stream' },
      signal: controller.signal,
    });
    const reader = res.body!.getReader();
    let text = '';
    await alice.post(`/v1/conversations/${c.id}/messages`, { clientMessageId: 'l1', text: 'live one' });
    while (!text.includes('live one')) text += new TextDecoder().decode((await reader.read()).value);
    controller.abort();
    const ids = [...text.matchAll(/^id: (\d+)$/gm)].map((m) => Number(m[1]));
    expect(text).toMatch(/^event: MessagePosted$/m);
    expect(ids).toHaveLength(2);
    await alice.post(`/v1/conversations/${c.id}/messages`, { clientMessageId: 'l2', text: 'missed one' });
    const resumed = await fetch(`${node.url}/v1/admin/feed?conversation=${c.id}`, {
      headers: { authorization: `Bearer ${tokenFor('ops', { role: 'admin' })}`, accept: 'text/event-stream', 'last-event-id': String(ids[1]) },
    });
    const rest = await resumed.text();
    expect(rest).toContain('missed one');
    expect(rest).not.toContain('live one');
  });
});
