/**
 * Three nodes over one JetStream stream (one real nats-server): a message posted through
 * one node reaches subscribers on the others with the same seq; concurrent posts to one
 * conversation through all nodes give one dense order that every node delivers alike;
 * a command retried through another node appends once; presence is global; a member
 * reads and subscribes through another node right after being added, without a 403 from
 * read models that have not caught up yet.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ServerFrame } from '../../protocol/index.js';
import { eventually } from '../helpers/eventually.js';
import { api } from '../helpers/http.js';
import { startNatsServer, type NatsSingle } from '../helpers/nats-server.js';
import { spawnNode, startTestNode, TEST_METRICS_TOKEN, tokenFor, type TestNode } from '../helpers/node.js';
import { tempDir } from '../helpers/temp-dir.js';
import { connectWs, type TestSocket } from '../helpers/ws-client.js';
import { asKnown, nodesWithSessions } from '../../projections/index.js';

let nats: NatsSingle;
let nodes: TestNode[];
const streamName = `PARLEY_X_${randomUUID().slice(0, 8)}`;
const witnessDir = tempDir();

beforeAll(async () => {
  nats = await startNatsServer();
  const cluster = { natsUrls: [nats.url], streamName, heartbeatSeconds: 0.2, presenceExpirySeconds: 1 };
  nodes = [];
  // The first node creates the stream; the others join it.
  nodes.push(await startTestNode(cluster));
  nodes.push(...(await Promise.all([startTestNode(cluster), startTestNode(cluster)])));
});
afterAll(async () => {
  await Promise.all((nodes ?? []).map((n) => n.destroy()));
  await nats?.stop();
  witnessDir.remove();
});

async function conversation(creator: string, members: string[], via = nodes[0]!): Promise<string> {
  const r = await api(via.url, tokenFor(creator)).post('/v1/conversations', { title: 'x', members });
  expect(r.status).toBe(201);
  return r.body.id;
}

async function subscribe(node: TestNode, user: string, conversationId: string): Promise<TestSocket> {
  const ws = await connectWs(node.url, tokenFor(user));
  await ws.next((f) => f.type === 'ready');
  ws.send({ type: 'subscribe', conversations: [{ conversationId, afterSeq: 0 }] });
  await ws.next((f) => f.type === 'caught-up' && f.conversationId === conversationId);
  return ws;
}

const postedSeqs = (ws: TestSocket) =>
  ws.frames.flatMap((f: ServerFrame) => (f.type === 'event' && f.event.type === 'MessagePosted' ? [f.event] : []));

describe('nodes over one JetStream stream', () => {
  it('all run on JetStream and see each other', async () => {
    for (const n of nodes) expect((await api(n.url).get('/health')).body.store).toBe('jetstream');
    await eventually(() => {
      for (const n of nodes) expect(n.cluster!.alive().sort()).toEqual(nodes.map((x) => x.config.nodeId).sort());
    }, 5000);
  });

  it('delivers a message posted through node A to subscribers on nodes B and C, with the same seq', async () => {
    const id = await conversation('alice', ['bob', 'carol']);
    const bob = await subscribe(nodes[1]!, 'bob', id);
    const carol = await subscribe(nodes[2]!, 'carol', id);
    const r = await api(nodes[0]!.url, tokenFor('alice')).post(`/v1/conversations/${id}/messages`, { clientMessageId: 'hi', text: 'hello from A' });
    expect(r.status).toBe(201);
    for (const ws of [bob, carol]) {
      const f = await ws.next((x) => x.type === 'event' && x.event.type === 'MessagePosted');
      expect(f.type === 'event' && { seq: f.event.seq, text: (f.event.data as { text: string }).text }).toEqual({ seq: r.body.seq, text: 'hello from A' });
    }
    // HTTP reads on another node see it too, once that node's read models have it.
    await eventually(async () => {
      const page = await api(nodes[2]!.url, tokenFor('carol')).get(`/v1/conversations/${id}/messages?after=0`);
      expect(page.body.messages.map((m: { seq: number }) => m.seq)).toEqual([r.body.seq]);
    });
    bob.close();
    carol.close();
  });

  it('lets a member read and subscribe through other nodes right after being added through one, and still refuses a non-member', async () => {
    const bob = await connectWs(nodes[1]!.url, tokenFor('bob'));
    await bob.next((f) => f.type === 'ready');
    const eve = await connectWs(nodes[1]!.url, tokenFor('eve'));
    await eve.next((f) => f.type === 'ready');
    const settled = (conversationId: string) => (f: ServerFrame) =>
      (f.type === 'caught-up' || f.type === 'error') && 'conversationId' in f && f.conversationId === conversationId;
    for (let round = 0; round < 20; round++) {
      const id = await conversation('alice', ['bob']); // through node A
      bob.send({ type: 'subscribe', conversations: [{ conversationId: id, afterSeq: 0 }] });
      const page = await api(nodes[2]!.url, tokenFor('bob')).get(`/v1/conversations/${id}/messages?after=0`);
      expect(page.status, JSON.stringify(page.body)).toBe(200);
      expect((await bob.next(settled(id))).type).toBe('caught-up');
      eve.send({ type: 'subscribe', conversations: [{ conversationId: id, afterSeq: 0 }] });
      expect(await eve.next(settled(id))).toMatchObject({ type: 'error', code: 'forbidden' });
      expect((await api(nodes[2]!.url, tokenFor('eve')).get(`/v1/conversations/${id}/messages?after=0`)).status).toBe(403);
    }
    bob.close();
    eve.close();
  });

  it('orders concurrent posts through all nodes into one dense seq, delivered alike everywhere', async () => {
    const id = await conversation('alice', ['bob', 'carol']);
    const watchers = await Promise.all(nodes.map((n, i) => subscribe(n, ['alice', 'bob', 'carol'][i]!, id)));
    const perLane = 12;
    const acked = new Map<string, number>(); // clientMessageId → seq
    let conflicts = 0;
    // Three users, each through a different node, two lanes each, all at once.
    const lanes = nodes.flatMap((node, i) =>
      [0, 1].map(async (lane) => {
        const user = ['alice', 'bob', 'carol'][i]!;
        const client = api(node.url, tokenFor(user));
        for (let k = 0; k < perLane; k++) {
          const clientMessageId = `${user}-${lane}-${k}`;
          const post = () => client.post(`/v1/conversations/${id}/messages`, { clientMessageId, text: clientMessageId });
          let r = await post();
          // `conflict` (409) means "try again" (client-lib does): the same id, so at most once.
          while (r.status === 409) {
            conflicts++;
            await new Promise((ok) => setTimeout(ok, Math.random() * 20));
            r = await post();
          }
          expect([200, 201], JSON.stringify(r.body)).toContain(r.status);
          acked.set(clientMessageId, r.body.seq);
        }
      }),
    );
    await Promise.all(lanes);
    console.info(`concurrent posts through 3 nodes: ${conflicts} conflict answers retried by the clients`);
    const total = nodes.length * 2 * perLane;
    expect(acked.size).toBe(total);
    // seq 1 is ConversationCreated: the posts took 2 … total + 1, each exactly once.
    expect([...acked.values()].sort((a, b) => a - b)).toEqual(Array.from({ length: total }, (_, i) => i + 2));

    const log = await nodes[0]!.store.readStream(`conversation-${id}`, { limit: 10_000 });
    expect(log.map((e) => e.seq)).toEqual(Array.from({ length: total + 1 }, (_, i) => i + 1));
    const textBySeq = new Map(log.map((e) => [e.seq, (e.data as { text?: string }).text]));
    for (const [cmid, seq] of acked) expect(textBySeq.get(seq)).toBe(cmid);

    await eventually(() => {
      for (const ws of watchers) expect(postedSeqs(ws).length).toBe(total);
    }, 10_000);
    const reference = postedSeqs(watchers[0]!).map((e) => `${e.seq}:${e.id}`);
    expect(reference).toEqual(log.slice(1).map((e) => `${e.seq}:${e.id}`));
    for (const ws of watchers) {
      expect(postedSeqs(ws).map((e) => `${e.seq}:${e.id}`)).toEqual(reference);
      ws.close();
    }
  });

  it('appends a command retried through another node once', async () => {
    const id = await conversation('alice', ['bob']);
    const body = { clientMessageId: 'retry-me', text: 'once' };
    const first = await api(nodes[0]!.url, tokenFor('alice')).post(`/v1/conversations/${id}/messages`, body);
    const again = await api(nodes[1]!.url, tokenFor('alice')).post(`/v1/conversations/${id}/messages`, body);
    expect(first.status).toBe(201);
    expect(again.status).toBe(200);
    expect(again.body).toEqual(first.body);

    // The same command through two nodes at the same moment: one append, one answer.
    const racing = { clientMessageId: 'race-me', text: 'once too' };
    const answers = await Promise.all(nodes.map((n) => api(n.url, tokenFor('alice')).post(`/v1/conversations/${id}/messages`, racing)));
    expect(answers.map((a) => a.status).sort()).toEqual([200, 200, 201]);
    expect(new Set(answers.map((a) => JSON.stringify(a.body))).size).toBe(1);

    const log = await nodes[2]!.store.readStream(`conversation-${id}`);
    expect(log.filter((e) => e.type === 'MessagePosted').map((e) => (e.data as { text: string }).text)).toEqual(['once', 'once too']);
  });

  it('shows a user connected to node A as online through node B, and offline after they leave', async () => {
    const id = await conversation('alice', ['dana']);
    const dana = await connectWs(nodes[0]!.url, tokenFor('dana'));
    await dana.next((f) => f.type === 'ready');
    const onB = api(nodes[1]!.url, tokenFor('alice'));
    const danaOf = async () => (await onB.get(`/v1/conversations/${id}/presence`)).body.members.find((m: { userId: string }) => m.userId === 'dana');
    await eventually(async () => expect((await danaOf()).online).toBe(true));
    dana.close();
    await eventually(async () => expect(await danaOf()).toMatchObject({ online: false, lastSeen: expect.any(Number) }));
  });

  it('exports bus metrics', async () => {
    const text = (await api(nodes[1]!.url, TEST_METRICS_TOKEN).get('/metrics')).body as string;
    for (const name of [
      'parley_feed_lag_events',
      'parley_bus_publish_seconds_count',
      'parley_nats_reconnects_total',
      'parley_cluster_heartbeats_received_total',
      'parley_cluster_peers_alive',
    ]) {
      expect(text).toMatch(new RegExp(`^${name}\\{`, 'm'));
    }
    expect(text).toMatch(/^parley_cluster_peers_alive\{[^}]*\} 3$/m);
  });

  it('lets a node that stops cleanly leave without being declared dead', async () => {
    const leaving = nodes.pop()!;
    const fay = await connectWs(leaving.url, tokenFor('fay'));
    await fay.next((f) => f.type === 'ready');
    await eventually(async () => {
      const all = await nodes[0]!.store.readAll(0, 100_000);
      expect(all.map(asKnown).some((e) => e.type === 'UserOnline' && e.data.userId === 'fay')).toBe(true);
    });
    // The sentinel: a witness node that goes silent (SIGSTOP) after the clean leave is
    // declared expired after its last heartbeat, so once its NodeExpired is in the log the
    // leaver's expiry would have been recorded too, had it been treated as dead.
    const witnessId = `witness-${randomUUID().slice(0, 8)}`;
    const witness = await spawnNode(witnessDir.path, {
      NATS_URL: nats.url,
      PARLEY_STREAM: streamName,
      PARLEY_NODE_ID: witnessId,
      PARLEY_HEARTBEAT_SECONDS: '0.2',
      PARLEY_PRESENCE_EXPIRY_SECONDS: '1',
    });
    try {
      await eventually(() => expect(nodes[0]!.cluster!.alive()).toContain(witnessId), 10_000);
      await leaving.destroy();
      await eventually(() => expect(nodes[0]!.cluster!.alive()).not.toContain(leaving.config.nodeId), 10_000);
      // Its offline events reached the observer's read models: from here on it is only to be forgotten.
      await eventually(() => expect(nodesWithSessions(nodes[0]!.runner.db)).not.toContain(leaving.config.nodeId), 10_000);
      witness.process.kill('SIGSTOP');
      const expired = await eventually(async () => {
        const all = await nodes[0]!.store.readAll(0, 100_000);
        expect(all.map(asKnown).some((e) => e.type === 'NodeExpired' && e.data.nodeId === witnessId)).toBe(true);
        return all.map(asKnown);
      }, 15_000);
      // Its users went offline through the log, and nobody recorded its death.
      expect(expired.filter((e) => e.type === 'NodeExpired' && e.data.nodeId === leaving.config.nodeId)).toEqual([]);
      expect(expired.filter((e) => e.type === 'UserOffline' && e.data.userId === 'fay')).toHaveLength(1);
    } finally {
      witness.process.kill('SIGCONT');
      await witness.kill('SIGKILL');
    }
  });
});
