/**
 * Roles and moderation reach the Yjs documents at once: a ban closes the banned user's
 * documents, an admin's delete closes the author's message body, and a member made guest
 * keeps reading the notes but can no longer write them.
 */
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import * as Y from 'yjs';
import { DocumentSync, docNames, type WebSocketLike } from '../../client-lib/yjs/index.js';
import { syncExtension } from '../../sync/index.js';
import { eventually } from '../helpers/eventually.js';
import { api } from '../helpers/http.js';
import { startTestNode, tokenFor, type TestNode } from '../helpers/node.js';

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function node(): Promise<TestNode> {
  const n = await startTestNode({ extensions: [syncExtension()] });
  cleanups.push(() => n.destroy());
  return n;
}

function device(n: TestNode, user: string, docName: string): DocumentSync {
  const token = tokenFor(user);
  const s = new DocumentSync({
    url: n.url,
    docName,
    token: () => token,
    backoff: { initialMs: 20, maxMs: 200 },
    openSocket: (url) => new WebSocket(url, { headers: { authorization: `Bearer ${token}` } }) as unknown as WebSocketLike,
  });
  cleanups.push(() => s.destroy());
  return s;
}

const text = (doc: Y.Doc) => doc.getText('text').toString();

async function setup(n: TestNode) {
  const alice = api(n.url, tokenFor('alice'));
  const { body: c } = await alice.post('/v1/conversations', { title: 't', members: ['bob', 'carol'] });
  expect((await alice.raw('PUT', `/v1/conversations/${c.id}/members/bob/role`, { role: 'admin' })).status).toBe(200);
  return c.id as string;
}

describe('roles and documents', () => {
  it("a ban closes the banned user's documents at once", async () => {
    const n = await node();
    const c = await setup(n);
    const carol = device(n, 'carol', docNames.notes(c));
    await carol.whenSynced();
    const closed = new Promise((r) => carol.on('closed', r));
    expect((await api(n.url, tokenFor('bob')).raw('PUT', `/v1/conversations/${c}/bans/carol`)).status).toBe(200);
    expect(await closed).toMatchObject({ code: 4403 });
  });

  it("an admin's delete closes the author's message body", async () => {
    const n = await node();
    const c = await setup(n);
    const { body: posted } = await api(n.url, tokenFor('carol')).post(`/v1/conversations/${c}/messages`, { clientMessageId: 'x', text: 'oops' });
    const carol = device(n, 'carol', docNames.messageBody(c, posted.messageId));
    await carol.whenSynced();
    const gone = new Promise((r) => carol.on('closed', r));
    expect((await api(n.url, tokenFor('bob')).delete(`/v1/conversations/${c}/messages/${posted.messageId}`)).status).toBe(200);
    expect(await gone).toMatchObject({ code: 4403, reason: 'message_deleted' });
  });

  it('a member made guest reads the notes but can no longer write them', async () => {
    const n = await node();
    const c = await setup(n);
    const alice = device(n, 'alice', docNames.notes(c));
    const carol = device(n, 'carol', docNames.notes(c));
    await Promise.all([alice.whenSynced(), carol.whenSynced()]);
    carol.doc.getText('text').insert(0, 'agenda');
    await eventually(() => expect(text(alice.doc)).toBe('agenda'));
    expect((await api(n.url, tokenFor('bob')).raw('PUT', `/v1/conversations/${c}/members/carol/role`, { role: 'guest' })).status).toBe(200);
    const before = await n.store.streamVersion(`conversation-${c}`);
    const denied = new Promise((r) => carol.on('denied', r));
    carol.doc.getText('text').insert(6, ' (guest)');
    expect(await denied).toMatchObject({ code: 'forbidden' });
    alice.doc.getText('text').insert(0, 'new ');
    await eventually(() => expect(text(carol.doc)).toContain('new agenda'));
    const after = await n.store.readStream(`conversation-${c}`, { afterSeq: before });
    expect(after.map((e) => [e.type, e.metadata.actor])).toEqual([['NotesUpdated', 'alice']]);
  });
});
