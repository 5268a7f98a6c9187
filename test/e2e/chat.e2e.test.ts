/** Two users chatting through a real node over real HTTP and WebSockets. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ServerFrame, WireEvent } from '../../protocol/index.js';
import { eventually } from '../helpers/eventually.js';
import { api } from '../helpers/http.js';
import { startTestNode, tokenFor, type TestNode } from '../helpers/node.js';
import { connectWs } from '../helpers/ws-client.js';

let node: TestNode;
const alice = () => api(node.url, tokenFor('alice'));
const bob = () => api(node.url, tokenFor('bob'));

beforeAll(async () => {
  node = await startTestNode();
});
afterAll(async () => {
  await node.destroy();
});

const events = (frames: ServerFrame[], conversationId: string): WireEvent[] =>
  frames.flatMap((f) => (f.type === 'event' && f.event.conversationId === conversationId ? [f.event] : []));

describe('chatting', () => {
  it('delivers messages live over WebSockets, in seq order, with acks carrying the seq', async () => {
    const { body: created, status } = await alice().post('/v1/conversations', { title: 'Lunch', members: ['bob'] });
    expect(status).toBe(201);
    const a = await connectWs(node.url, tokenFor('alice'));
    const b = await connectWs(node.url, tokenFor('bob'), { via: 'query' });
    await a.next((f) => f.type === 'ready');
    await b.next((f) => f.type === 'ready');
    a.send({ type: 'subscribe', conversations: [{ conversationId: created.id, afterSeq: 0 }] });
    b.send({ type: 'subscribe', conversations: [{ conversationId: created.id, afterSeq: 0 }] });
    await a.next((f) => f.type === 'caught-up' && f.conversationId === created.id);
    await b.next((f) => f.type === 'caught-up' && f.conversationId === created.id);

    const ack = await a.command('c1', { type: 'PostMessage', conversationId: created.id, text: 'noon?' });
    expect(ack).toMatchObject({ type: 'ack', id: 'c1', duplicate: false, result: { conversationId: created.id, seq: 2 } });
    const reply = await b.command('c2', { type: 'PostMessage', conversationId: created.id, text: 'yes 🍜' });
    expect(reply).toMatchObject({ type: 'ack', result: { seq: 3 } });
    const messageId = (ack as { result: { messageId: string } }).result.messageId;
    await b.command('c3', { type: 'AddReaction', conversationId: created.id, messageId, emoji: '👍' });

    for (const s of [a, b]) {
      await eventually(() =>
        expect(events(s.frames, created.id).map((e) => [e.seq, e.type])).toEqual([
          [1, 'ConversationCreated'],
          [2, 'MessagePosted'],
          [3, 'MessagePosted'],
          [4, 'ReactionAdded'],
        ]),
      );
    }
    const posted = events(b.frames, created.id)[1]!;
    expect(posted).toMatchObject({ actor: 'alice', commandId: 'c1', data: { author: 'alice', text: 'noon?' } });
    expect(posted.position).toBeGreaterThan(0);
    a.close();
    b.close();
  });

  it('serves history in seq order, paged both ways, with reactions and deletions', async () => {
    const { body: c } = await alice().post('/v1/conversations', { title: 'Paging', members: ['bob'] });
    const ids: string[] = [];
    for (let i = 1; i <= 7; i++) {
      const r = await (i % 2 ? alice() : bob()).post(`/v1/conversations/${c.id}/messages`, { clientMessageId: `p${i}`, text: `m${i}` });
      expect(r.status).toBe(201);
      ids.push(r.body.messageId);
    }
    expect((await alice().delete(`/v1/conversations/${c.id}/messages/${ids[0]}`)).status).toBe(200);
    expect((await bob().delete(`/v1/conversations/${c.id}/messages/${ids[2]}`)).body.code).toBe('not_author');
    await bob().post(`/v1/conversations/${c.id}/messages/${ids[1]}/reactions`, { emoji: '🎉' });
    await alice().post(`/v1/conversations/${c.id}/messages/${ids[1]}/reactions`, { emoji: '🎉' });
    await alice().delete(`/v1/conversations/${c.id}/messages/${ids[1]}/reactions/${encodeURIComponent('🎉')}`);

    const first = await bob().get(`/v1/conversations/${c.id}/messages?after=0&limit=3`);
    expect(first.body.messages.map((m: { text: string }) => m.text)).toEqual(['', 'm2', 'm3']);
    expect(first.body.messages[0]).toMatchObject({ deleted: true, messageId: ids[0] });
    expect(first.body.messages[1]).toMatchObject({ author: 'bob', reactions: { '🎉': ['bob'] }, deleted: false });
    expect(typeof first.body.messages[1].sentAt).toBe('string');
    const lastSeq = first.body.messages[2].seq;
    const next = await bob().get(`/v1/conversations/${c.id}/messages?after=${lastSeq}&limit=3`);
    expect(next.body.messages.map((m: { text: string }) => m.text)).toEqual(['m4', 'm5', 'm6']);
    const back = await bob().get(`/v1/conversations/${c.id}/messages?before=${next.body.messages[0].seq}&limit=2`);
    expect(back.body.messages.map((m: { text: string }) => m.text)).toEqual(['m2', 'm3']);
  });

  it('lists conversations with the last message and unread counts that follow read markers', async () => {
    const { body: c } = await alice().post('/v1/conversations', { title: 'Unread', members: ['bob'] });
    for (let i = 1; i <= 3; i++) await alice().post(`/v1/conversations/${c.id}/messages`, { clientMessageId: `u${i}`, text: `u${i}` });
    const own = await bob().post(`/v1/conversations/${c.id}/messages`, { clientMessageId: 'u4', text: 'mine' });
    const mine = (await bob().get('/v1/conversations')).body.conversations.find((x: { id: string }) => x.id === c.id);
    expect(mine).toMatchObject({ title: 'Unread', unread: 3, members: ['alice', 'bob'], lastMessage: { text: 'mine', author: 'bob' } });
    await bob().post(`/v1/conversations/${c.id}/read`, { seq: 3 });
    const after = (await bob().get('/v1/conversations')).body.conversations.find((x: { id: string }) => x.id === c.id);
    expect(after).toMatchObject({ unread: 1, readSeq: 3 });
    expect((await bob().post(`/v1/conversations/${c.id}/read`, { seq: own.body.seq + 10 })).body.code).toBe('seq_out_of_range');
    const aliceView = (await alice().get('/v1/conversations')).body.conversations.find((x: { id: string }) => x.id === c.id);
    expect(aliceView.unread).toBe(1);
  });

  it('invites, leaves, and stops delivering to a member who left', async () => {
    const { body: c } = await alice().post('/v1/conversations', { title: 'Members', members: [] });
    // Bob stays in this one: a post here after the secret is the sentinel (a socket gets
    // events in log order, so once it has this one it would have had the secret).
    const { body: stay } = await alice().post('/v1/conversations', { title: 'Still a member', members: ['bob'] });
    expect((await alice().post(`/v1/conversations/${c.id}/members`, { userId: 'bob' })).status).toBe(200);
    const b = await connectWs(node.url, tokenFor('bob'));
    b.send({ type: 'subscribe', conversations: [{ conversationId: c.id, afterSeq: 0 }, { conversationId: stay.id, afterSeq: 0 }] });
    await b.next((f) => f.type === 'caught-up' && f.conversationId === stay.id);
    await b.next((f) => f.type === 'caught-up' && f.conversationId === c.id);
    expect((await bob().delete(`/v1/conversations/${c.id}/members/bob`)).status).toBe(200);
    await b.next((f) => f.type === 'event' && f.event.type === 'MemberLeft');
    await alice().post(`/v1/conversations/${c.id}/messages`, { clientMessageId: 'after-leave', text: 'secret' });
    await alice().post(`/v1/conversations/${stay.id}/messages`, { clientMessageId: 'sentinel', text: 'sentinel' });
    await b.next((f) => events([f], stay.id).some((e) => e.type === 'MessagePosted'));
    expect(events(b.frames, c.id).some((e) => e.type === 'MessagePosted')).toBe(false);
    expect((await bob().get(`/v1/conversations/${c.id}/messages`)).status).toBe(403);
    b.close();
  });

  it('shows presence and relays typing to the other members', async () => {
    const { body: c } = await alice().post('/v1/conversations', { title: 'Presence', members: ['carol'] });
    const a = await connectWs(node.url, tokenFor('alice'));
    a.send({ type: 'subscribe', conversations: [{ conversationId: c.id, afterSeq: 0 }] });
    await a.next((f) => f.type === 'caught-up');
    const carol = await connectWs(node.url, tokenFor('carol'));
    await a.next((f) => f.type === 'presence' && f.userId === 'carol' && f.online);
    const online = await alice().get(`/v1/conversations/${c.id}/presence`);
    expect(online.body.members).toEqual([
      { userId: 'alice', online: true, lastSeen: null },
      { userId: 'carol', online: true, lastSeen: null },
    ]);
    carol.send({ type: 'subscribe', conversations: [{ conversationId: c.id, afterSeq: 0 }] });
    await carol.next((f) => f.type === 'caught-up');
    carol.send({ type: 'typing', conversationId: c.id });
    await a.next((f) => f.type === 'typing' && f.userId === 'carol');
    carol.close();
    const gone = await a.next<Extract<ServerFrame, { type: 'presence' }>>((f) => f.type === 'presence' && f.userId === 'carol' && !f.online);
    expect(gone.lastSeen).toBeGreaterThan(Date.now() - 60_000);
    await eventually(async () =>
      expect((await alice().get(`/v1/conversations/${c.id}/presence`)).body.members[1]).toMatchObject({ userId: 'carol', online: false }),
    );
    a.close();
  });
});
