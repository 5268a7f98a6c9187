/**
 * A real HAProxy (the deploy template, deploy/haproxy/haproxy.cfg) in front of three real
 * nodes sharing a JetStream log. Clients — the project's client-lib (outbox, retries) and
 * HTTP posters that retry a refused post under the same id — post through HAProxy; one
 * node is sent SIGTERM and drains: `/ready` turns 503, HAProxy marks it DOWN, the node
 * refuses new work, answers what it had taken and closes its sockets with 4503, and its
 * clients reconnect through HAProxy to the other two. At the end every acknowledged post
 * is in the log and in each surviving node's history exactly once: 0 lost, 0 duplicated.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient, MemoryStorage, type ParleyClient } from '../../client-lib/node.js';
import { CLOSE } from '../../protocol/index.js';
import { eventually } from '../helpers/eventually.js';
import { startHaproxy, type Haproxy } from '../helpers/haproxy.js';
import { api } from '../helpers/http.js';
import { startNatsServer, type NatsSingle } from '../helpers/nats-server.js';
import { spawnNode, startTestNode, tokenFor, type SpawnedNode, type TestNode } from '../helpers/node.js';
import { tempDir } from '../helpers/temp-dir.js';
import { connectWs, type TestSocket } from '../helpers/ws-client.js';

/** Above the template's check interval × failures (1 s × 2) plus its check timeout, so HAProxy notices first. */
const DRAIN_SECONDS = 4;
const CLIENTS = ['carol', 'dave', 'erin', 'frank', 'grace', 'heidi'];
const POSTERS = ['alice', 'bob'];
const IN_FLIGHT_PER_CLIENT = 4;

let nats: NatsSingle;
let victim: SpawnedNode;
let live: TestNode[] = [];
let haproxy: Haproxy | undefined;
const victimDir = tempDir();
const streamName = `PARLEY_H_${randomUUID().slice(0, 8)}`;

beforeAll(async () => {
  nats = await startNatsServer();
  const cluster = { natsUrls: [nats.url], streamName };
  live.push(await startTestNode(cluster)); // creates the stream
  [victim, ...live] = await Promise.all([
    spawnNode(victimDir.path, { NATS_URL: nats.url, PARLEY_STREAM: streamName, PARLEY_DRAIN_SECONDS: String(DRAIN_SECONDS) }),
    ...live.map(async (n) => n),
    startTestNode(cluster),
  ]);
  const hostOf = (url: string) => new URL(url).host;
  haproxy = await startHaproxy({ node1: hostOf(live[0]!.url), node2: hostOf(live[1]!.url), victim: hostOf(victim.url) });
}, 120_000);
afterAll(async () => {
  await haproxy?.stop();
  await victim?.kill('SIGKILL');
  await Promise.all(live.map((n) => n.destroy()));
  await nats?.stop();
  victimDir.remove();
});

describe('draining a node behind HAProxy', () => {
  it('moves its clients to the other nodes and loses or duplicates no acknowledged post', async () => {
    const lb = haproxy!.url;
    const [b, c] = live as [TestNode, TestNode];
    const created = await api(lb, tokenFor('alice')).post('/v1/conversations', { title: 'drain', members: [...POSTERS, ...CLIENTS] });
    expect(created.status).toBe(201);
    const id: string = created.body.id;
    const victimId: string = (await api(victim.url).get('/health')).body.nodeId;

    // A raw socket through HAProxy that lands on the victim: it must be told 4503 and land elsewhere next time.
    const onVictim = await socketOn(lb, victimId);

    // client-lib clients through HAProxy (leastconn spreads them over the three nodes).
    const clients: ParleyClient[] = [];
    const closes: number[] = [];
    const sent = new Set<string>();
    for (const user of CLIENTS) {
      const client = await createClient({ url: lb, userId: user, token: () => tokenFor(user), storage: new MemoryStorage(), backoff: { initialMs: 50, maxMs: 500 } });
      client.connection.subscribe((s) => {
        if (s.close) closes.push(s.close.code);
      });
      clients.push(client);
    }
    let stop = false;
    const sending = clients.map(async (client) => {
      const room = await client.conversation(id);
      for (let k = 0; !stop; k++) {
        const text = `${client.userId}-${k}`;
        await room.send(text); // in the outbox; acked whenever a node takes it
        sent.add(text);
        // Load with a bound: a few posts in flight per client, the next once the node acked one.
        await until(client.outbox, (items) => items.length < IN_FLIGHT_PER_CLIENT);
      }
    });

    // HTTP posters through HAProxy: a refused or cut post is sent again under the same id.
    const acked = new Map<string, number>();
    const refusals = new Map<number | string, number>();
    const posting = POSTERS.map(async (user) => {
      for (let k = 0; !stop; k++) {
        const clientMessageId = `${user}-${k}`;
        for (let attempt = 0; ; attempt++) {
          if (attempt > 200) throw new Error(`${clientMessageId} was never acknowledged`);
          const r = await api(lb, tokenFor(user))
            .post(`/v1/conversations/${id}/messages`, { clientMessageId, text: clientMessageId })
            .catch((err: Error) => ({ status: err.name, body: undefined }));
          if (r.status === 201 || r.status === 200) {
            acked.set(clientMessageId, r.body.seq);
            break;
          }
          refusals.set(r.status, (refusals.get(r.status) ?? 0) + 1);
          await new Promise((ok) => setTimeout(ok, 10 + Math.random() * 20));
        }
      }
    });

    try {
      await eventually(() => expect(acked.size + sent.size).toBeGreaterThan(60), 20_000);
      victim.process.kill('SIGTERM');
      // The sentinels, in the order the drain produces them: HAProxy sees /ready fail, the victim closes its sockets and exits.
      await haproxy!.waitForLine(/parley_nodes\/victim is DOWN/, 15_000);
      expect((await onVictim.closed).code).toBe(CLOSE.tryAgainLater);
      expect(await victim.exited).toBe(0);
      const moved = await socketOn(lb, undefined);
      expect(moved.nodeId).not.toBe(victimId);
      moved.socket.close();

      // Work goes on through the two others, then everyone stops and the outboxes empty.
      const atExit = acked.size + sent.size;
      await eventually(() => expect(acked.size + sent.size).toBeGreaterThan(atExit + 60), 20_000);
      stop = true;
      await Promise.all([...posting, ...sending]);
      for (const client of clients) {
        const where = () => `${client.userId}: ${JSON.stringify(client.connection.get())}, ${client.outbox.get().length} in the outbox`;
        await eventually(() => expect(client.outbox.get().length, where()).toBe(0), 15_000);
      }
      expect(closes).toContain(CLOSE.tryAgainLater); // some client-lib client was on the victim and was moved
      for (const client of clients) expect(client.connection.get().status).toBe('online');

      // The log (shared) and each surviving node's history read model: every acknowledged post exactly once.
      const log = (await b.store.readStream(`conversation-${id}`, { limit: 100_000 })).filter((e) => e.type === 'MessagePosted');
      const expected = [...acked.keys(), ...sent].sort();
      const logTexts = log.map((e) => (e.data as { text: string }).text);
      expect([...logTexts].sort()).toEqual(expected);
      for (const [cmid, seq] of acked) expect((log.find((e) => e.seq === seq)?.data as { text?: string } | undefined)?.text, `${cmid} acked at ${seq}`).toBe(cmid);
      for (const node of [b, c]) {
        const history = await eventually(async () => {
          const texts = await historyTexts(node.url, id);
          expect(texts.length).toBe(log.length);
          return texts;
        }, 15_000);
        expect([...history].sort(), `history on ${node.config.nodeId}`).toEqual(expected);
      }
      console.info(
        `drain behind haproxy: ${acked.size} HTTP + ${sent.size} client-lib posts acknowledged, ${log.length} in the log; ` +
          `HTTP refusals while moving ${JSON.stringify(Object.fromEntries(refusals))}; client closes ${JSON.stringify(closes)}`,
      );
    } finally {
      // A failed assertion must not leave the loops posting. The client-lib loops are not
      // awaited here: one may wait on an outbox that a failed run never empties.
      stop = true;
      await Promise.allSettled(posting);
      await Promise.all(clients.map((cl) => cl.close()));
    }
  }, 120_000);
});

/**
 * Opens raw sockets through the balancer until one is served by `nodeId` (or, undefined,
 * by any node); the others are closed. Bounded: leastconn hands each node a turn.
 */
async function socketOn(lb: string, nodeId: string | undefined): Promise<{ socket: TestSocket; nodeId: string; closed: Promise<{ code: number }> }> {
  const extra: TestSocket[] = [];
  try {
    for (let i = 0; i < 12; i++) {
      const socket = await connectWs(lb, tokenFor('watcher'));
      const ready = (await socket.next((f) => f.type === 'ready')) as { nodeId: string };
      if (nodeId === undefined || ready.nodeId === nodeId) return { socket, nodeId: ready.nodeId, closed: socket.closed };
      extra.push(socket);
    }
    throw new Error(`no socket through the balancer reached node ${nodeId}`);
  } finally {
    for (const s of extra) s.close();
  }
}

/** Resolves once `value` satisfies `done` (now or at a later change). */
function until<T>(value: { get(): T; subscribe(listener: (v: T) => void): () => void }, done: (v: T) => boolean): Promise<void> {
  if (done(value.get())) return Promise.resolve();
  return new Promise((resolve) => {
    const unsubscribe = value.subscribe((v) => {
      if (!done(v)) return;
      unsubscribe();
      resolve();
    });
  });
}

/** Every message text in a node's history read model, paged by seq. */
async function historyTexts(url: string, conversationId: string): Promise<string[]> {
  const texts: string[] = [];
  for (let after = 0; ; ) {
    const page = await api(url, tokenFor('alice')).get(`/v1/conversations/${conversationId}/messages?after=${after}&limit=200`);
    if (page.status !== 200) throw new Error(`history answered ${page.status}`);
    const messages = page.body.messages as Array<{ seq: number; text: string }>;
    if (messages.length === 0) return texts;
    for (const m of messages) texts.push(m.text);
    after = messages[messages.length - 1]!.seq;
  }
}
