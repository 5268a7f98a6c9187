/**
 * Signed webhooks against a real node and a real receiver (test/helpers/webhook-receiver.ts)
 * that checks every signature with its own implementation: delivery in order per
 * conversation, event-type filters, secret rotation, retries, timeouts, dead letters and
 * their redelivery, a receiver that goes down and comes back.
 */
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../helpers/eventually.js';
import { api } from '../helpers/http.js';
import { startTestNode, tokenFor, type TestNode } from '../helpers/node.js';
import { WEBHOOK_TEST_ENV, WebhookReceiver } from '../helpers/webhook-receiver.js';


let node: TestNode;
let admin: ReturnType<typeof api>;
let alice: ReturnType<typeof api>;
beforeAll(async () => {
  node = await startTestNode({ env: WEBHOOK_TEST_ENV });
  admin = api(node.url, tokenFor('root', { role: 'admin' }));
  alice = api(node.url, tokenFor('alice'));
});
afterAll(async () => {
  await node?.destroy();
});

async function register(receiver: WebhookReceiver, body: Record<string, unknown> = {}): Promise<string> {
  const res = await admin.post('/v1/admin/webhooks', { url: receiver.url, ...body });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  expect(res.body.secret).toMatch(/^whsec_/);
  receiver.secrets = [res.body.secret];
  return res.body.webhookId;
}

async function conversationWith(messages: number, tag: string): Promise<string> {
  const created = await alice.post('/v1/conversations', { title: tag, members: [] });
  expect(created.status).toBe(201);
  for (let i = 0; i < messages; i++) {
    const posted = await alice.post(`/v1/conversations/${created.body.id}/messages`, { clientMessageId: `${tag}-${i}`, text: `${tag} ${i}` });
    expect(posted.status).toBe(201);
  }
  return created.body.id;
}

/** Each conversation's seqs as the receiver got them, duplicates dropped by webhook-id as a receiver should. */
function seqsByConversation(receiver: WebhookReceiver): Map<string, number[]> {
  const seen = new Set<string>();
  const out = new Map<string, number[]>();
  for (const d of receiver.accepted) {
    if (seen.has(d.id)) continue;
    seen.add(d.id);
    out.set(d.conversationId, [...(out.get(d.conversationId) ?? []), d.seq]);
  }
  return out;
}

describe('webhooks', () => {
  it('are admin-only and refuse URLs that are not http(s)', async () => {
    expect((await alice.get('/v1/admin/webhooks')).status).toBe(403);
    expect((await alice.post('/v1/admin/webhooks', { url: 'http://127.0.0.1:1/x' })).status).toBe(403);
    expect((await admin.post('/v1/admin/webhooks', { url: 'file:///etc/passwd' })).status).toBe(400);
    expect((await admin.post('/v1/admin/webhooks', { url: 'http://user:pw@example.com/' })).status).toBe(400);
    expect((await admin.post('/v1/admin/webhooks', { url: 'http://example.com/', secret: 'not-a-secret' })).status).toBe(400);
    // Matches the pattern, but its base64 is not 24 to 64 bytes.
    expect((await admin.post('/v1/admin/webhooks', { url: 'http://example.com/', secret: `whsec_${'A'.repeat(33)}` })).status).toBe(400);
    expect((await admin.raw('PATCH', '/v1/admin/webhooks/nope', { url: 'http://example.com/' })).status).toBe(404);
  });

  it('delivers every conversation event signed, in order per conversation, with the event id as webhook-id', async () => {
    const receiver = new WebhookReceiver();
    await receiver.start();
    const id = await register(receiver);
    const [a, b] = await Promise.all([conversationWith(5, 'order-a'), conversationWith(5, 'order-b')]);
    await eventually(() => expect(seqsByConversation(receiver).get(a)?.length).toBe(6));
    await eventually(() => expect(seqsByConversation(receiver).get(b)?.length).toBe(6));
    expect(seqsByConversation(receiver).get(a)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(seqsByConversation(receiver).get(b)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(receiver.rejected).toBe(0);
    expect(new Set(receiver.accepted.map((d) => d.type))).toEqual(new Set(['ConversationCreated', 'MessagePosted']));

    const list = await admin.get('/v1/admin/webhooks');
    const mine = list.body.webhooks.find((w: { webhookId: string }) => w.webhookId === id);
    expect(mine.secrets).toHaveLength(1);
    expect(mine.secrets[0].hint).not.toContain(receiver.secrets[0]!.slice(12));
    expect(list.body.deliveringNode).toBe(node.config.nodeId);
    const last = Math.max(...receiver.accepted.map((d) => d.position));
    await eventually(async () => {
      const now = await admin.get('/v1/admin/webhooks');
      expect(now.body.webhooks.find((w: { webhookId: string }) => w.webhookId === id).cursor).toBeGreaterThanOrEqual(last);
    });
    expect((await admin.delete(`/v1/admin/webhooks/${id}`)).status).toBe(200);
    await receiver.stop();
  });

  it('keeps secrets out of the log: registrations and rotations carry them sealed', async () => {
    const receiver = new WebhookReceiver();
    await receiver.start();
    const id = await register(receiver);
    const rotated = (await admin.raw('PATCH', `/v1/admin/webhooks/${id}`, { rotateSecret: true })).body.secret as string;
    const plain = [receiver.secrets[0]!, rotated];
    const db = new Database(join(node.dataDir, 'events.sqlite'), { readonly: true });
    const rows = db.prepare("SELECT data FROM events WHERE type IN ('WebhookRegistered', 'WebhookUpdated')").pluck().all() as string[];
    db.close();
    const stored = rows.flatMap((r) => (JSON.parse(r) as { secrets: Array<{ secret: string }> }).secrets.map((x) => x.secret));
    expect(stored.length).toBeGreaterThanOrEqual(3); // registered (1) + rotated (new and old)
    expect(stored.every((x) => x.startsWith('sealed.v1.'))).toBe(true);
    for (const secret of plain) expect(rows.some((r) => r.includes(secret) || r.includes(secret.slice('whsec_'.length)))).toBe(false);
    // The deliverer unseals them: a delivery still carries both signatures.
    receiver.secrets = plain;
    await conversationWith(1, 'sealed');
    await eventually(() => expect(receiver.accepted.length).toBeGreaterThan(0));
    expect(receiver.accepted.at(-1)).toMatchObject({ signatureCount: 2, secretsMatched: 2 });
    await admin.delete(`/v1/admin/webhooks/${id}`);
    await receiver.stop();
  });

  it('delivers only the event types asked for', async () => {
    const receiver = new WebhookReceiver();
    await receiver.start();
    const id = await register(receiver, { eventTypes: ['MessagePosted'] });
    const conv = await conversationWith(3, 'filter');
    await eventually(() => expect(seqsByConversation(receiver).get(conv)).toEqual([2, 3, 4]));
    expect(receiver.accepted.every((d) => d.type === 'MessagePosted')).toBe(true);
    await admin.delete(`/v1/admin/webhooks/${id}`);
    await receiver.stop();
  });

  it('signs with the old and the new secret during a rotation', async () => {
    const receiver = new WebhookReceiver();
    await receiver.start();
    const id = await register(receiver);
    const old = receiver.secrets[0]!;
    const rotated = await admin.raw('PATCH', `/v1/admin/webhooks/${id}`, { rotateSecret: true });
    expect(rotated.status).toBe(200);
    const fresh = rotated.body.secret as string;
    expect(fresh).not.toBe(old);
    receiver.secrets = [old, fresh];
    const conv = await conversationWith(1, 'rotation');
    await eventually(() => expect(seqsByConversation(receiver).get(conv)).toEqual([1, 2]));
    // Each delivery carries two signatures, one per secret, and both verify.
    for (const d of receiver.accepted) expect([d.signatureCount, d.secretsMatched]).toEqual([2, 2]);
    const listed = (await admin.get('/v1/admin/webhooks')).body.webhooks.find((w: { webhookId: string }) => w.webhookId === id);
    expect(listed.secrets.map((s: { expiresAt: number | null }) => s.expiresAt === null)).toEqual([true, false]);
    await admin.delete(`/v1/admin/webhooks/${id}`);
    await receiver.stop();
  });

  it('retries failures, dead-letters after the last attempt, and redelivers on request', async () => {
    const receiver = new WebhookReceiver();
    await receiver.start();
    const id = await register(receiver, { eventTypes: ['ConversationCreated'] });
    receiver.mode = 'fail';
    const conv = await conversationWith(0, 'dead');
    await eventually(async () => expect((await admin.get(`/v1/admin/webhooks/${id}/dead-letters`)).body.deadLetters).toHaveLength(1));
    expect(receiver.attempts).toBe(3);
    const [dead] = (await admin.get(`/v1/admin/webhooks/${id}/dead-letters`)).body.deadLetters;
    expect(dead).toMatchObject({ eventType: 'ConversationCreated', stream: `conversation-${conv}`, attempts: 3 });
    expect(dead.error).toContain('HTTP 500');

    // The lane moved on: the next event is delivered once the receiver answers again.
    receiver.mode = 'ok';
    const next = await conversationWith(0, 'after-dead');
    await eventually(() => expect(seqsByConversation(receiver).get(next)).toEqual([1]));
    expect(seqsByConversation(receiver).get(conv)).toBeUndefined();

    const redelivered = await admin.post(`/v1/admin/webhooks/${id}/dead-letters/${dead.position}/redeliver`, {});
    expect(redelivered.body).toMatchObject({ delivered: true });
    expect(seqsByConversation(receiver).get(conv)).toEqual([1]);
    expect((await admin.get(`/v1/admin/webhooks/${id}/dead-letters`)).body.deadLetters).toEqual([]);
    // Sent again on request (a replay), with the same webhook-id; an event the endpoint does not take is refused.
    expect((await admin.post(`/v1/admin/webhooks/${id}/dead-letters/${dead.position}/redeliver`, {})).body).toMatchObject({ delivered: true });
    expect(receiver.accepted.filter((d) => d.id === receiver.accepted.at(-1)!.id)).toHaveLength(2);
    expect((await admin.post(`/v1/admin/webhooks/${id}/dead-letters/1/redeliver`, {})).status).toBe(404);
    await admin.delete(`/v1/admin/webhooks/${id}`);
    await receiver.stop();
  });

  it('counts an endpoint that does not answer in time as a failure', async () => {
    const receiver = new WebhookReceiver();
    await receiver.start();
    const id = await register(receiver, { eventTypes: ['ConversationCreated'] });
    receiver.mode = 'hang';
    await conversationWith(0, 'hang');
    await eventually(async () => expect((await admin.get(`/v1/admin/webhooks/${id}/dead-letters`)).body.deadLetters).toHaveLength(1));
    const [dead] = (await admin.get(`/v1/admin/webhooks/${id}/dead-letters`)).body.deadLetters;
    expect(dead.error).toContain('no answer within 400 ms');
    await admin.delete(`/v1/admin/webhooks/${id}`);
    await receiver.stop();
  });

  it('catches up, in order, with a receiver that was down and came back on its port', async () => {
    const receiver = new WebhookReceiver();
    await receiver.start();
    const id = await register(receiver);
    // Long enough not to dead-letter while the receiver is down.
    const patched = await admin.raw('PATCH', `/v1/admin/webhooks/${id}`, { eventTypes: ['MessagePosted'] });
    expect(patched.status).toBe(200);
    const conv = await conversationWith(1, 'down');
    await eventually(() => expect(seqsByConversation(receiver).get(conv)).toEqual([2]));
    await receiver.stop();
    for (let i = 1; i < 4; i++) await alice.post(`/v1/conversations/${conv}/messages`, { clientMessageId: `down-${i}`, text: `down ${i}` });
    // Nothing can arrive while it is down; it fails at least one attempt before it is back.
    await eventually(async () => expect((await admin.get(`/v1/admin/webhooks/${id}/dead-letters`)).body.deadLetters.length).toBeGreaterThan(0));
    await receiver.start();
    for (const d of (await admin.get(`/v1/admin/webhooks/${id}/dead-letters`)).body.deadLetters) {
      expect((await admin.post(`/v1/admin/webhooks/${id}/dead-letters/${d.position}/redeliver`, {})).body.delivered).toBe(true);
    }
    await alice.post(`/v1/conversations/${conv}/messages`, { clientMessageId: 'down-4', text: 'down 4' });
    await eventually(() => expect(seqsByConversation(receiver).get(conv)?.length).toBe(5));
    expect([...seqsByConversation(receiver).get(conv)!].sort((x, y) => x - y)).toEqual([2, 3, 4, 5, 6]);
    await admin.delete(`/v1/admin/webhooks/${id}`);
    await receiver.stop();
  });
});
