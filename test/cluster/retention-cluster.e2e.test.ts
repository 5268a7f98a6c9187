/**
 * Retention and erasure on JetStream, where the log cannot be rewritten: two nodes over
 * one stream serve an erased message redacted from their read models, their WebSocket
 * catch-up and their admin feed (engine/node/redacted-reads.ts), and both sweeping one
 * conversation's retention append no more events than one node would.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../helpers/eventually.js';
import { api } from '../helpers/http.js';
import { startNatsServer, type NatsSingle } from '../helpers/nats-server.js';
import { startTestNode, tokenFor, type TestNode } from '../helpers/node.js';
import { connectWs } from '../helpers/ws-client.js';

let nats: NatsSingle;
let nodes: TestNode[] = [];
const streamName = `PARLEY_R_${randomUUID().slice(0, 8)}`;

beforeAll(async () => {
  nats = await startNatsServer();
  const cluster = { natsUrls: [nats.url], streamName, retentionSweepSeconds: 0.1 };
  nodes.push(await startTestNode(cluster));
  nodes.push(await startTestNode(cluster));
});
afterAll(async () => {
  await Promise.all(nodes.map((n) => n.destroy()));
  await nats?.stop();
});

async function feedText(node: TestNode, conversationId: string): Promise<string> {
  const res = await fetch(`${node.url}/v1/admin/feed?conversation=${conversationId}`, { headers: { authorization: `Bearer ${tokenFor('root', { role: 'admin' })}` } });
  expect(res.status).toBe(200);
  return res.text();
}

describe('retention and erasure on JetStream', () => {
  it('an erasure through one node is served redacted by the other (history, catch-up, admin feed)', async () => {
    const [one, two] = nodes as [TestNode, TestNode];
    const bob = api(one.url, tokenFor('bob'));
    const c = (await api(one.url, tokenFor('alice')).post('/v1/conversations', { title: 'js', members: ['bob'] })).body.id as string;
    const m = (await bob.post(`/v1/conversations/${c}/messages`, { clientMessageId: 'z', text: 'zebra on jetstream' })).body.messageId as string;
    await eventually(async () => expect(await feedText(two, c)).toContain('zebra'));
    expect((await bob.delete(`/v1/conversations/${c}/messages/${m}/content`)).status).toBe(200);
    await eventually(async () => {
      const page = (await api(two.url, tokenFor('alice')).get(`/v1/conversations/${c}/messages`)).body.messages;
      expect(page[0]).toMatchObject({ messageId: m, text: '', redacted: true });
    });
    const feed = await feedText(two, c);
    expect(feed).toContain('"MessageErased"');
    expect(feed).not.toContain('zebra');
    const reader = await connectWs(two.url, tokenFor('alice'));
    try {
      reader.send({ type: 'subscribe', conversations: [{ conversationId: c, afterSeq: 0 }] });
      await reader.next((f) => f.type === 'event' && f.event.type === 'MessageErased');
      expect(JSON.stringify(reader.frames)).not.toContain('zebra');
    } finally {
      reader.close();
    }
  });

  it('two nodes sweeping one conversation expire each message once, never once per node', async () => {
    const [one, two] = nodes as [TestNode, TestNode];
    const alice = api(one.url, tokenFor('alice'));
    const c = (await alice.post('/v1/conversations', { title: 'swept', members: [] })).body.id as string;
    for (let i = 0; i < 4; i++) expect((await alice.post(`/v1/conversations/${c}/messages`, { clientMessageId: `e${i}`, text: `zebra ${i}` })).status).toBe(201);
    expect((await alice.raw('PUT', `/v1/conversations/${c}/retention`, { periodSeconds: 1 })).status).toBe(200);
    for (const n of [one, two]) {
      await eventually(async () => {
        const page = (await api(n.url, tokenFor('alice')).get(`/v1/conversations/${c}/messages`)).body.messages;
        expect(page.map((x: { redacted?: boolean }) => x.redacted)).toEqual([true, true, true, true]);
      });
    }
    const feed = await feedText(two, c);
    expect(feed).not.toContain('zebra');
    // How many sweeps it takes depends on how far apart the posts crossed the period
    // (one per 100 ms tick at most); what must hold is that no sweep expires again what
    // another node's already did: each one reaches further than the one before.
    const reached = feed
      .split('\n')
      .filter((l) => l.includes('"MessagesExpired"'))
      .map((l) => (JSON.parse(l) as { data: { throughSeq: number } }).data.throughSeq);
    expect(reached.length).toBeGreaterThanOrEqual(1);
    expect(reached.length).toBeLessThanOrEqual(4);
    for (let i = 1; i < reached.length; i++) expect(reached[i]).toBeGreaterThan(reached[i - 1]!);
  });
});
