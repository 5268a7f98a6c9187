/**
 * Two nodes on a partitioned log (PARLEY_PARTITIONS=3, R3 on a 3-server JetStream
 * cluster), with conversations in every partition (picked by the mapping): a message
 * posted through one node is delivered live on the other and is in history and the
 * conversation list on both, at once on the node that wrote it (read-your-writes); a node
 * restarted on its data directory resumes its read models from their per-partition
 * checkpoints: it applies only what it had not, in every partition, and misses nothing.
 * Webhooks deliver from every partition, starting at the head as it was at registration.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Projection } from '../../projections/index.js';
import { conversationStream, partitionOf, partitionsOf, type StoredEvent } from '../../engine/store/index.js';
import { eventually } from '../helpers/eventually.js';
import { api } from '../helpers/http.js';
import { startNatsCluster, type NatsCluster } from '../helpers/nats-server.js';
import { startTestNode, tokenFor, type TestNode } from '../helpers/node.js';
import { tempDir } from '../helpers/temp-dir.js';
import { WEBHOOK_TEST_ENV, WebhookReceiver } from '../helpers/webhook-receiver.js';
import { connectWs, type TestSocket } from '../helpers/ws-client.js';

const N = 3;
let nats: NatsCluster;
let a: TestNode;
let b: TestNode | undefined;
const bDir = tempDir('parley-partitioned-b-');
const streamName = `PARLEY_P_${randomUUID().slice(0, 8)}`;
const conversations: string[] = [];
const receiver = new WebhookReceiver();

/** Every event once: a second application of one would fail its primary key and stop it. */
function applications(handed: StoredEvent[]): Projection {
  return {
    name: 'test-applications',
    version: 1,
    handles: ['MessagePosted', 'ConversationCreated'],
    setup: (db) => db.exec('CREATE TABLE IF NOT EXISTS test_applied (id TEXT PRIMARY KEY)'),
    handle: (events, db) => {
      handed.push(...events);
      const insert = db.prepare('INSERT INTO test_applied VALUES (?)');
      for (const e of events) insert.run(e.id);
    },
    truncate: (db) => db.exec('DELETE FROM test_applied'),
  };
}

const cluster = () => ({ natsUrls: nats.urls, streamName, partitions: N, replicas: 3, heartbeatSeconds: 0.2, presenceExpirySeconds: 1, env: WEBHOOK_TEST_ENV });
const startB = (handed: StoredEvent[]) => startTestNode({ ...cluster(), dataDir: bDir.path, projections: [applications(handed)] });

async function post(node: TestNode, conversationId: string, text: string): Promise<number> {
  const r = await api(node.url, tokenFor('alice')).post(`/v1/conversations/${conversationId}/messages`, { clientMessageId: randomUUID(), text });
  expect(r.status).toBe(201);
  return r.body.seq as number;
}

async function history(node: TestNode, user: string, conversationId: string): Promise<string[]> {
  const page = await api(node.url, tokenFor(user)).get(`/v1/conversations/${conversationId}/messages?after=0`);
  expect(page.status).toBe(200);
  return page.body.messages.map((m: { text: string }) => m.text);
}

async function listed(node: TestNode, user: string): Promise<string[]> {
  const r = await api(node.url, tokenFor(user)).get('/v1/conversations');
  expect(r.status).toBe(200);
  return r.body.conversations.map((c: { id: string }) => c.id);
}

const bHanded: StoredEvent[] = [];

beforeAll(async () => {
  await receiver.start();
  nats = await startNatsCluster(3);
  a = await startTestNode(cluster());
  b = await startB(bHanded);
}, 120_000);
afterAll(async () => {
  await Promise.all([a?.destroy(), b?.close()]);
  bDir.remove();
  await nats?.stop();
  await receiver.stop();
});

describe('two nodes on a partitioned log', () => {
  it('deliver live across nodes and read their writes, in every partition', async () => {
    for (const node of [a, b!]) expect(partitionsOf(node.store)).toBe(N);
    // Conversation ids come from the node: create until every partition has one.
    for (let i = 0; i < 60 && new Set(conversations.map((c) => partitionOf(conversationStream(c), N))).size < N; i++) {
      const r = await api(a.url, tokenFor('alice')).post('/v1/conversations', { title: `c${i}`, members: ['bob'] });
      expect(r.status).toBe(201);
      const partition = partitionOf(conversationStream(r.body.id), N);
      if (conversations.filter((c) => partitionOf(conversationStream(c), N) === partition).length < 2) conversations.push(r.body.id);
    }
    expect(new Set(conversations.map((c) => partitionOf(conversationStream(c), N))).size).toBe(N);

    const sockets: TestSocket[] = [];
    for (const c of conversations) {
      const ws = await connectWs(b!.url, tokenFor('bob'));
      await ws.next((f) => f.type === 'ready');
      ws.send({ type: 'subscribe', conversations: [{ conversationId: c, afterSeq: 0 }] });
      await ws.next((f) => f.type === 'caught-up' && f.conversationId === c);
      sockets.push(ws);
    }
    for (const [i, c] of conversations.entries()) {
      const seq = await post(a, c, `first ${c}`);
      // Read-your-writes on the writing node: no waiting by the test.
      expect(await history(a, 'alice', c)).toEqual([`first ${c}`]);
      expect(await listed(a, 'alice')).toContain(c);
      const f = await sockets[i]!.next((x) => x.type === 'event' && x.event.type === 'MessagePosted');
      expect(f.type === 'event' && f.event.seq).toBe(seq);
    }
    for (const c of conversations) {
      await eventually(async () => expect(await history(b!, 'bob', c)).toEqual([`first ${c}`]));
    }
    expect((await listed(b!, 'bob')).sort()).toEqual(expect.arrayContaining([...conversations].sort()));
    for (const ws of sockets) ws.close();
  });

  it('a restarted node resumes from its per-partition checkpoints, applying only what it had not', async () => {
    const seen = new Set(bHanded.map((e) => e.id));
    await eventually(() => expect(b!.runner.statusOf('test-applications')?.state).toBe('running'));
    await b!.close();
    b = undefined;
    for (const c of conversations) await post(a, c, `while down ${c}`);
    const handed: StoredEvent[] = [];
    b = await startB(handed);
    // Everything written while it was down, in every partition, and nothing it had already applied.
    const downs = handed.filter((e) => e.type === 'MessagePosted');
    expect(downs).toHaveLength(conversations.length);
    expect(handed.some((e) => seen.has(e.id))).toBe(false);
    expect(new Set(downs.map((e) => partitionOf(e.stream, N))).size).toBe(N);
    expect(b.runner.statusOf('test-applications')?.state).toBe('running');
    expect(b.runner.cursorOf('test-applications').encode()).toMatch(/^c1\./);
    for (const c of conversations) expect(await history(b, 'bob', c)).toEqual([`first ${c}`, `while down ${c}`]);
    // And it goes on live.
    for (const c of conversations) await post(a, c, `after ${c}`);
    for (const c of conversations) {
      await eventually(async () => expect(await history(b!, 'bob', c)).toEqual([`first ${c}`, `while down ${c}`, `after ${c}`]));
    }
  });

  it('delivers webhooks from every partition, from the head as it was at registration', async () => {
    const r = await api(a.url, tokenFor('root', { role: 'admin' })).post('/v1/admin/webhooks', { url: receiver.url });
    expect(r.status).toBe(201);
    receiver.secrets = [r.body.secret];
    const seqs = new Map<string, number>();
    // Last in this file: the other tests' history checks do not expect these messages.
    for (const c of conversations) seqs.set(c, await post(b!, c, `hooked ${c}`));
    await eventually(() => {
      const got = receiver.accepted.filter((d) => d.type === 'MessagePosted').map((d) => [d.conversationId, d.seq]);
      expect(got.sort()).toEqual([...seqs].sort());
    }, 30_000);
    // Nothing from before the registration, nothing twice.
    expect(receiver.accepted.map((d) => d.conversationId).sort()).toEqual([...conversations].sort());
    expect(receiver.rejected).toBe(0);
  });
});
