/**
 * Webhooks in a cluster (3 nats-servers, 3 nodes): one node holds the delivery lease, so
 * each event reaches the receiver once, in order per conversation, whichever node took
 * the write; when the delivering node leaves, another takes the lease over and goes on
 * from the cursor it left in the log.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../helpers/eventually.js';
import { api } from '../helpers/http.js';
import { startNatsCluster, type NatsCluster } from '../helpers/nats-server.js';
import { startTestNode, tokenFor, type TestNode } from '../helpers/node.js';
import { WEBHOOK_TEST_ENV, WebhookReceiver } from '../helpers/webhook-receiver.js';

let nats: NatsCluster;
let nodes: TestNode[] = [];
const receiver = new WebhookReceiver();
beforeAll(async () => {
  nats = await startNatsCluster(3);
  const cluster = { natsUrls: nats.urls, streamName: `PARLEY_W_${randomUUID().slice(0, 8)}`, replicas: 3, env: WEBHOOK_TEST_ENV };
  for (let i = 0; i < 3; i++) nodes.push(await startTestNode(cluster));
  await receiver.start();
}, 180_000);
afterAll(async () => {
  await Promise.all(nodes.map((n) => n.destroy()));
  await nats?.stop();
  await receiver.stop();
});

/** Posts `count` messages to each conversation, round-robin over the nodes. */
async function postEverywhere(conversations: string[], count: number, tag: string): Promise<void> {
  await Promise.all(
    conversations.map(async (conv, c) => {
      for (let i = 0; i < count; i++) {
        const node = nodes[(c + i) % nodes.length]!;
        const res = await api(node.url, tokenFor('alice')).post(`/v1/conversations/${conv}/messages`, { clientMessageId: `${tag}-${c}-${i}`, text: `${tag} ${i}` });
        expect(res.status).toBe(201);
      }
    }),
  );
}

function seqsOf(conv: string): number[] {
  return receiver.accepted.filter((d) => d.conversationId === conv).map((d) => d.seq);
}

describe('webhooks in a cluster', () => {
  it('delivers each event once, in order per conversation, and hands over when the delivering node leaves', async () => {
    const admin = api(nodes[1]!.url, tokenFor('root', { role: 'admin' }));
    const registered = await admin.post('/v1/admin/webhooks', { url: receiver.url });
    expect(registered.status).toBe(201);
    receiver.secrets = [registered.body.secret];

    const conversations: string[] = [];
    for (let c = 0; c < 3; c++) {
      const created = await api(nodes[c]!.url, tokenFor('alice')).post('/v1/conversations', { title: `cluster ${c}`, members: [] });
      conversations.push(created.body.id);
    }
    await postEverywhere(conversations, 6, 'first');
    await eventually(() => expect(receiver.accepted.length).toBe(21), 30_000);
    for (const conv of conversations) expect(seqsOf(conv)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(new Set(receiver.accepted.map((d) => d.id)).size).toBe(21);

    // Every node sees the same registration and the same delivering node.
    const views = await Promise.all(nodes.map((n) => api(n.url, tokenFor('root', { role: 'admin' })).get('/v1/admin/webhooks')));
    const delivering = views[0]!.body.deliveringNode as string;
    expect(nodes.map((n) => n.config.nodeId)).toContain(delivering);
    for (const v of views) expect([v.body.webhooks.length, v.body.deliveringNode]).toEqual([1, delivering]);

    // The cursor is in the log before the holder leaves, so the successor starts after it.
    const last = Math.max(...receiver.accepted.map((d) => d.position));
    await eventually(async () => expect((await admin.get('/v1/admin/webhooks')).body.webhooks[0].cursor).toBeGreaterThanOrEqual(last));
    const holder = nodes.find((n) => n.config.nodeId === delivering)!;
    await holder.destroy();
    nodes = nodes.filter((n) => n !== holder);

    await postEverywhere(conversations, 3, 'second');
    await eventually(() => expect(receiver.accepted.length).toBe(30), 30_000);
    for (const conv of conversations) expect(seqsOf(conv)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(new Set(receiver.accepted.map((d) => d.id)).size).toBe(30);
    const after = (await api(nodes[0]!.url, tokenFor('root', { role: 'admin' })).get('/v1/admin/webhooks')).body.deliveringNode;
    expect(nodes.map((n) => n.config.nodeId)).toContain(after);
    expect(receiver.rejected).toBe(0);
  }, 180_000);
});
