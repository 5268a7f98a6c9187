/**
 * Roles and moderation on a real node, over HTTP, the WebSocket and the client package:
 * the permission table decides, a ban ends the user's reading at once, the moderation
 * queue is the node admins' alone.
 */
import { describe, expect, it } from 'vitest';
import { when } from '../../client-lib/node.js';
import type { ServerFrame, WireEvent } from '../../protocol/index.js';
import { eventually } from '../helpers/eventually.js';
import { api } from '../helpers/http.js';
import { useClientNode } from '../helpers/client-node.js';
import { tokenFor } from '../helpers/node.js';
import { connectWs } from '../helpers/ws-client.js';

const fixture = useClientNode();
const as = (userId: string) => api(fixture.node.url, tokenFor(userId));
const put = (userId: string, path: string, body: unknown = {}) => as(userId).raw('PUT', path, body);
const events = (frames: ServerFrame[], conversationId: string): WireEvent[] =>
  frames.flatMap((f) => (f.type === 'event' && f.event.conversationId === conversationId ? [f.event] : []));

/** A conversation of alice (owner) with bob (admin), carol (member) and dave (guest). */
async function staffed(title: string, suffix: string) {
  const [bob, carol, dave] = ['bob', 'carol', 'dave'].map((u) => u + suffix) as [string, string, string];
  const { body: c } = await as('alice' + suffix).post('/v1/conversations', { title, members: [bob, carol, dave] });
  expect((await put('alice' + suffix, `/v1/conversations/${c.id}/members/${bob}/role`, { role: 'admin' })).status).toBe(200);
  expect((await put('alice' + suffix, `/v1/conversations/${c.id}/members/${dave}/role`, { role: 'guest' })).status).toBe(200);
  return { id: c.id as string, alice: 'alice' + suffix, bob, carol, dave };
}

describe('roles over HTTP', () => {
  it('reads every member role; guests cannot post; the last owner cannot leave', async () => {
    const c = await staffed('Roles', '-r');
    const view = await as(c.carol).get(`/v1/conversations/${c.id}/moderation`);
    expect(view.status).toBe(200);
    expect(view.body.members).toEqual(
      expect.arrayContaining([
        { userId: c.alice, role: 'owner' },
        { userId: c.bob, role: 'admin' },
        { userId: c.carol, role: 'member' },
        { userId: c.dave, role: 'guest' },
      ]),
    );
    expect((await as('stranger').get(`/v1/conversations/${c.id}/moderation`)).status).toBe(403);
    const guestPost = await as(c.dave).post(`/v1/conversations/${c.id}/messages`, { clientMessageId: 'g1', text: 'hi' });
    expect([guestPost.status, guestPost.body.code]).toEqual([403, 'forbidden']);
    expect((await as(c.dave).get(`/v1/conversations/${c.id}/messages`)).status).toBe(200);
    const leave = await as(c.alice).delete(`/v1/conversations/${c.id}/members/${c.alice}`);
    expect([leave.status, leave.body.code]).toEqual([409, 'last_owner']);
    const promote = await put(c.bob, `/v1/conversations/${c.id}/members/${c.carol}/role`, { role: 'admin' });
    expect(promote.status).toBe(403);
  });

  it("lets an admin delete another's message: history and the conversation list lose its text", async () => {
    const c = await staffed('Deletes', '-d');
    const { body: posted } = await as(c.carol).post(`/v1/conversations/${c.id}/messages`, { clientMessageId: 'c1', text: 'rude words' });
    const byMember = await as(c.carol).delete(`/v1/conversations/${c.id}/messages/${posted.messageId}`);
    expect(byMember.status).toBe(200); // her own
    const { body: again } = await as(c.carol).post(`/v1/conversations/${c.id}/messages`, { clientMessageId: 'c2', text: 'more rude words' });
    const { body: bobs } = await as(c.bob).post(`/v1/conversations/${c.id}/messages`, { clientMessageId: 'b1', text: 'be nice' });
    const notAuthor = await as(c.carol).delete(`/v1/conversations/${c.id}/messages/${bobs.messageId}`);
    expect([notAuthor.status, notAuthor.body.code]).toEqual([403, 'not_author']);
    expect((await as(c.bob).delete(`/v1/conversations/${c.id}/messages/${again.messageId}`)).status).toBe(200);
    const { body: page } = await as(c.carol).get(`/v1/conversations/${c.id}/messages`);
    const gone = page.messages.find((m: { messageId: string }) => m.messageId === again.messageId);
    expect([gone.deleted, gone.text]).toEqual([true, '']);
    const { body: list } = await as(c.carol).get('/v1/conversations');
    expect(list.conversations.find((x: { id: string }) => x.id === c.id).lastMessage.text).toBe('be nice');
  });

  it('mutes until a time: refused with muted, then allowed once unmuted', async () => {
    const c = await staffed('Mutes', '-m');
    expect((await put(c.bob, `/v1/conversations/${c.id}/members/${c.carol}/mute`, { until: Date.now() + 3_600_000 })).status).toBe(200);
    const muted = await as(c.carol).post(`/v1/conversations/${c.id}/messages`, { clientMessageId: 'm1', text: 'hello?' });
    expect([muted.status, muted.body.code]).toEqual([403, 'muted']);
    const { body: view } = await as(c.alice).get(`/v1/conversations/${c.id}/moderation`);
    expect(view.members.find((m: { userId: string }) => m.userId === c.carol).mutedUntil).toBeGreaterThan(Date.now());
    expect((await put(c.bob, `/v1/conversations/${c.id}/members/${c.carol}/mute`, { until: 0 })).status).toBe(200);
    expect((await as(c.carol).post(`/v1/conversations/${c.id}/messages`, { clientMessageId: 'm2', text: 'hello!' })).status).toBe(201);
  });

  it('queues reports for node admins only, one per user and message', async () => {
    const c = await staffed('Reports', '-q');
    const { body: posted } = await as(c.carol).post(`/v1/conversations/${c.id}/messages`, { clientMessageId: 'q1', text: 'buy my pills' });
    const report = (u: string) => as(u).post(`/v1/conversations/${c.id}/messages/${posted.messageId}/reports`, { reason: 'spam' });
    expect((await report(c.dave)).status).toBe(200);
    expect((await report(c.dave)).status).toBe(200); // nothing new
    expect((await report('stranger')).status).toBe(403);
    expect((await as(c.alice).get(`/v1/admin/moderation-queue?conversation=${c.id}`)).status).toBe(403);
    const admin = api(fixture.node.url, tokenFor('ops', { role: 'admin' }));
    const { body: queue } = await admin.get(`/v1/admin/moderation-queue?conversation=${c.id}`);
    expect(queue.reports).toHaveLength(1);
    expect(queue.reports[0]).toMatchObject({ messageId: posted.messageId, reportedBy: c.dave, reason: 'spam', author: c.carol, text: 'buy my pills', deleted: false });
    await as(c.bob).delete(`/v1/conversations/${c.id}/messages/${posted.messageId}`);
    const { body: after } = await admin.get(`/v1/admin/moderation-queue?conversation=${c.id}`);
    expect(after.reports[0]).toMatchObject({ text: '', deleted: true });
  });

  it("resolves reports: the conversation's owners and admins see and close them, the queue filters open and resolved", async () => {
    const c = await staffed('Resolve', '-v');
    const post = async (id: string, text: string) => (await as(c.carol).post(`/v1/conversations/${c.id}/messages`, { clientMessageId: id, text })).body.messageId as string;
    const [spam, fine] = [await post('v1', 'buy my pills'), await post('v2', 'hello')];
    for (const [u, m] of [[c.dave, spam], [c.alice, spam], [c.dave, fine]] as const) {
      expect((await as(u).post(`/v1/conversations/${c.id}/messages/${m}/reports`, { reason: 'spam' })).status).toBe(200);
    }
    const reports = (u: string, status = 'open') => as(u).get(`/v1/conversations/${c.id}/reports?status=${status}`);
    expect((await reports(c.carol)).status).toBe(403);
    expect((await reports(c.dave)).status).toBe(403);
    expect((await reports('stranger')).status).toBe(403);
    expect((await reports(c.bob)).body.reports.map((r: { messageId: string }) => r.messageId)).toEqual([spam, spam, fine]);

    const resolve = (u: string, m: string, outcome: string) => put(u, `/v1/conversations/${c.id}/reports/${m}/resolution`, { outcome });
    expect((await resolve(c.carol, spam, 'resolved')).body.code).toBe('forbidden');
    expect((await resolve(c.bob, spam, 'maybe')).status).toBe(400);
    const before = Date.now();
    expect((await resolve(c.bob, spam, 'resolved')).status).toBe(200);
    expect((await resolve(c.alice, fine, 'dismissed')).status).toBe(200);
    expect((await resolve(c.alice, 'no-such-message', 'dismissed')).body.code).toBe('message_not_found');

    expect((await reports(c.bob)).body.reports).toEqual([]);
    const { body: closed } = await reports(c.alice, 'resolved');
    expect(closed.reports.map((r: { messageId: string; resolution: { outcome: string; resolvedBy: string } }) => [r.messageId, r.resolution.outcome, r.resolution.resolvedBy])).toEqual([
      [spam, 'resolved', c.bob],
      [spam, 'resolved', c.bob],
      [fine, 'dismissed', c.alice],
    ]);
    expect(Date.parse(closed.reports[0].resolution.resolvedAt)).toBeGreaterThanOrEqual(before - 1000);
    // Another user's report opens the message again; the node admins' queue filters alike.
    expect((await as(c.bob).post(`/v1/conversations/${c.id}/messages/${fine}/reports`, { reason: 'rude' })).status).toBe(200);
    const admin = api(fixture.node.url, tokenFor('ops', { role: 'admin' }));
    const { body: open } = await admin.get(`/v1/admin/moderation-queue?conversation=${c.id}&status=open`);
    expect(open.reports.map((r: { reportedBy: string; resolution?: unknown }) => [r.reportedBy, r.resolution])).toEqual([[c.bob, undefined]]);
    expect((await admin.get(`/v1/admin/moderation-queue?conversation=${c.id}`)).body.reports).toHaveLength(4);
    expect((await admin.get(`/v1/admin/moderation-queue?conversation=${c.id}&status=resolved`)).body.reports).toHaveLength(3);
  });

  it('pins and unpins, owners and admins only', async () => {
    const c = await staffed('Pins', '-p');
    const { body: posted } = await as(c.carol).post(`/v1/conversations/${c.id}/messages`, { clientMessageId: 'p1', text: 'rules' });
    expect((await put(c.carol, `/v1/conversations/${c.id}/pins/${posted.messageId}`)).status).toBe(403);
    expect((await put(c.bob, `/v1/conversations/${c.id}/pins/${posted.messageId}`)).status).toBe(200);
    expect((await as(c.carol).get(`/v1/conversations/${c.id}/moderation`)).body.pinned).toEqual([posted.messageId]);
    expect((await as(c.alice).delete(`/v1/conversations/${c.id}/pins/${posted.messageId}`)).status).toBe(200);
    expect((await as(c.carol).get(`/v1/conversations/${c.id}/moderation`)).body.pinned).toEqual([]);
  });
});

describe('bans', () => {
  it("ends the banned user's subscription at once, and keeps them out until unbanned", async () => {
    const c = await staffed('Bans', '-b');
    const { body: stay } = await as(c.alice).post('/v1/conversations', { title: 'Elsewhere', members: [c.carol] });
    const s = await connectWs(fixture.node.url, tokenFor(c.carol));
    s.send({ type: 'subscribe', conversations: [{ conversationId: c.id, afterSeq: 0 }, { conversationId: stay.id, afterSeq: 0 }] });
    await s.next((f) => f.type === 'caught-up' && f.conversationId === c.id);
    await s.next((f) => f.type === 'caught-up' && f.conversationId === stay.id);
    expect((await put(c.bob, `/v1/conversations/${c.id}/bans/${c.carol}`)).status).toBe(200);
    await s.next((f) => f.type === 'event' && f.event.type === 'MemberLeft');
    await as(c.alice).post(`/v1/conversations/${c.id}/messages`, { clientMessageId: 'after-ban', text: 'secret' });
    // A socket gets events in log order: once it has this sentinel it would have had the secret.
    await as(c.alice).post(`/v1/conversations/${stay.id}/messages`, { clientMessageId: 'sentinel', text: 'sentinel' });
    await s.next((f) => events([f], stay.id).some((e) => e.type === 'MessagePosted'));
    expect(events(s.frames, c.id).map((e) => e.type).slice(-2)).toEqual(['MemberBanned', 'MemberLeft']);
    expect((await as(c.carol).get(`/v1/conversations/${c.id}/messages`)).status).toBe(403);
    const readd = await as(c.alice).post(`/v1/conversations/${c.id}/members`, { userId: c.carol });
    expect([readd.status, readd.body.code]).toEqual([409, 'banned']);
    expect((await as(c.alice).get(`/v1/conversations/${c.id}/moderation`)).body.banned).toEqual([c.carol]);
    expect((await as(c.bob).delete(`/v1/conversations/${c.id}/bans/${c.carol}`)).status).toBe(200);
    expect((await as(c.alice).post(`/v1/conversations/${c.id}/members`, { userId: c.carol })).status).toBe(200);
    s.close();
  });
});

describe('roles through the client package', () => {
  const { client } = fixture;

  it('sets a role, bans and reads the view; a refused command is a coded failure', async () => {
    const owner = await client('olive');
    const member = await client('milo');
    const local = await owner.createConversation('Client roles', ['milo', 'gus']);
    const room = await owner.conversation(local);
    await room.moderation.setRole('gus', 'guest');
    await when(owner.outbox, (items) => items.length === 0);
    const view = await room.moderation.view();
    expect(view.members.find((m) => m.userId === 'gus')?.role).toBe('guest');

    const failed = new Promise<string>((resolve) => member.failures.subscribe((f) => resolve(f.code)));
    await (await member.conversation(owner.resolveId(local)!)).moderation.ban('gus');
    expect(await failed).toBe('forbidden');

    await room.moderation.ban('milo');
    await when(owner.outbox, (items) => items.length === 0);
    await eventually(async () => expect((await room.moderation.view()).banned).toEqual(['milo']));
  });

  it("lists the conversation's open reports and resolves them", async () => {
    const owner = await client('rita');
    const reporter = await client('rex');
    const local = await owner.createConversation('Client reports', ['rex']);
    const room = await owner.conversation(local);
    await when(owner.outbox, (items) => items.length === 0);
    const posted = await as('rita').post(`/v1/conversations/${owner.resolveId(local)}/messages`, { clientMessageId: 'cr1', text: 'report me' });
    const theirs = await reporter.conversation(owner.resolveId(local)!);
    await theirs.moderation.report(posted.body.messageId, 'testing');
    await when(reporter.outbox, (items) => items.length === 0);
    await eventually(async () => expect((await room.moderation.reports()).reports.map((r) => r.reportedBy)).toEqual(['rex']));

    const refused = new Promise<string>((resolve) => reporter.failures.subscribe((f) => resolve(f.code)));
    await theirs.moderation.resolveReport(posted.body.messageId);
    expect(await refused).toBe('forbidden');

    await room.moderation.resolveReport(posted.body.messageId, 'dismissed');
    await when(owner.outbox, (items) => items.length === 0);
    await eventually(async () => expect((await room.moderation.reports()).reports).toEqual([]));
    const [entry] = (await room.moderation.reports({ status: 'resolved' })).reports;
    expect(entry?.resolution).toMatchObject({ outcome: 'dismissed', resolvedBy: 'rita' });
  });
});
