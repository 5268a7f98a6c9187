/**
 * kill -9 of a Parley node (a spawned process) in a cluster over one nats-server, while
 * clients post through every node: every acknowledged message is in the log exactly once,
 * the dead node's clients move to a live node and catch up without gaps, and the dead
 * node's users show offline on the others within the presence expiry.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient, MemoryStorage, type ParleyClient } from '../../client-lib/node.js';
import { eventually } from '../helpers/eventually.js';
import { api } from '../helpers/http.js';
import { startNatsServer, type NatsSingle } from '../helpers/nats-server.js';
import { spawnNode, startTestNode, tokenFor, type SpawnedNode, type TestNode } from '../helpers/node.js';
import { tempDir } from '../helpers/temp-dir.js';
import { connectWs } from '../helpers/ws-client.js';

const HEARTBEAT_SECONDS = 0.25;
const EXPIRY_SECONDS = 1.5;

let nats: NatsSingle;
let victim: SpawnedNode;
let live: TestNode[] = [];
const victimDir = tempDir();
const streamName = `PARLEY_K_${randomUUID().slice(0, 8)}`;

beforeAll(async () => {
  nats = await startNatsServer();
  const cluster = { natsUrls: [nats.url], streamName, heartbeatSeconds: HEARTBEAT_SECONDS, presenceExpirySeconds: EXPIRY_SECONDS };
  live.push(await startTestNode(cluster));
  [victim, ...live] = await Promise.all([
    spawnNode(victimDir.path, {
      NATS_URL: nats.url,
      PARLEY_STREAM: streamName,
      PARLEY_HEARTBEAT_SECONDS: String(HEARTBEAT_SECONDS),
      PARLEY_PRESENCE_EXPIRY_SECONDS: String(EXPIRY_SECONDS),
    }),
    ...live.map(async (n) => n),
    startTestNode(cluster),
  ]);
});
afterAll(async () => {
  await victim?.kill('SIGKILL');
  await Promise.all(live.map((n) => n.destroy()));
  await nats?.stop();
  victimDir.remove();
});

describe('kill -9 of a node in a cluster', () => {
  it('loses no acknowledged message, moves its clients to a live node gap-free, and expires its users', async () => {
    const [b, c] = live as [TestNode, TestNode];
    const created = await api(b.url, tokenFor('alice')).post('/v1/conversations', { title: 'crash', members: ['bob', 'carol', 'dave'] });
    const id: string = created.body.id;

    // dave is connected only to the victim; alice watches presence from node B.
    const dave = await connectWs(victim.url, tokenFor('dave'));
    const victimId = ((await dave.next((f) => f.type === 'ready')) as { nodeId: string }).nodeId;
    const alice = await connectWs(b.url, tokenFor('alice'));
    await alice.next((f) => f.type === 'ready');
    alice.send({ type: 'subscribe', conversations: [{ conversationId: id, afterSeq: 0 }] });
    const daveOnB = async () =>
      (await api(b.url, tokenFor('alice')).get(`/v1/conversations/${id}/presence`)).body.members.find((m: { userId: string }) => m.userId === 'dave');
    await eventually(async () => expect((await daveOnB()).online).toBe(true), 5000);

    // carol uses the real client on the victim: an outbox, optimistic sends, catch-up.
    const storage = new MemoryStorage();
    const clientOn = (url: string) => createClient({ url, userId: 'carol', token: () => tokenFor('carol'), storage, backoff: { initialMs: 50, maxMs: 500 } });
    let carol: ParleyClient = await clientOn(victim.url);
    let room = await carol.conversation(id);
    const carolSent: string[] = [];

    // HTTP posters through every node; the victim's poster moves to B when it dies.
    const acked = new Map<string, number>();
    let stop = false;
    const poster = async (user: string, urls: () => string) => {
      for (let k = 0; !stop; k++) {
        const clientMessageId = `${user}-${k}`;
        for (;;) {
          const r = await api(urls(), tokenFor(user))
            .post(`/v1/conversations/${id}/messages`, { clientMessageId, text: clientMessageId })
            .catch(() => undefined); // the node is gone: try again (the same id) where urls() now points
          if (r && (r.status === 201 || r.status === 200)) {
            acked.set(clientMessageId, r.body.seq);
            break;
          }
          await new Promise((ok) => setTimeout(ok, 10 + Math.random() * 20));
        }
      }
    };
    let victimAlive = true;
    const posters = [
      poster('alice', () => b.url),
      poster('bob', () => c.url),
      poster('dave', () => (victimAlive ? victim.url : b.url)),
    ];
    const carolPosting = (async () => {
      for (let k = 0; !stop; k++) {
        const text = `carol-${k}`;
        await room.send(text); // durable in the outbox; acked whenever a node takes it
        carolSent.push(text);
        await new Promise((ok) => setTimeout(ok, 15));
      }
    })();

    await eventually(() => expect(acked.size).toBeGreaterThan(30), 10_000);
    const beforeKill = await b.store.headPosition();
    await victim.kill('SIGKILL');
    const killedAt = Date.now();
    victimAlive = false;

    // dave shows offline on B within the expiry (counted from his node's last heartbeat).
    await eventually(async () => expect((await daveOnB()).online).toBe(false), EXPIRY_SECONDS * 1000 + 3000, 25);
    const offlineAfter = Date.now() - killedAt;
    // Slack for the poll and a busy machine; the heartbeats put the bound at the expiry itself.
    expect(offlineAfter).toBeLessThanOrEqual(EXPIRY_SECONDS * 1000 + 1000);
    await alice.next((f) => f.type === 'presence' && f.userId === 'dave' && f.online === false, 2000);

    // carol's app reconnects to a live node with the same storage (client-lib takes one URL).
    await carol.close();
    carol = await clientOn(b.url);
    room = await carol.conversation(id);
    const atMove = acked.size;
    await eventually(() => expect(acked.size).toBeGreaterThan(atMove + 30), 15_000);
    stop = true;
    await Promise.all([...posters, carolPosting]);
    await eventually(() => expect(carol.outbox.get()).toEqual([]), 10_000);

    const log = (await b.store.readStream(`conversation-${id}`, { limit: 100_000 })).filter((e) => e.type === 'MessagePosted');
    const texts = log.map((e) => (e.data as { text: string }).text);
    const count = new Map<string, number>();
    for (const t of texts) count.set(t, (count.get(t) ?? 0) + 1);
    for (const [cmid, seq] of acked) {
      expect(count.get(cmid), cmid).toBe(1);
      expect((log.find((e) => e.seq === seq)?.data as { text?: string } | undefined)?.text, `${cmid} acked at ${seq}`).toBe(cmid);
    }
    for (const t of carolSent) expect(count.get(t), t).toBe(1);
    expect([...count.values()].every((n) => n === 1)).toBe(true);

    // carol, now on B, holds the whole conversation in seq order without a gap.
    await eventually(() => {
      const seen = room.messages.get().map((m) => m.seq);
      expect(seen).toEqual(log.map((e) => e.seq));
    }, 10_000);
    console.info(
      `node kill -9: ${acked.size} HTTP + ${carolSent.length} client posts acknowledged, ${log.length} in the log; dave offline on B ${offlineAfter} ms after the kill (expiry ${EXPIRY_SECONDS} s)`,
    );
    await carol.close();
    alice.close();

    // The dead node's expiry is in the log once, recorded by one of the survivors. Counted
    // from the kill on and for the victim only: on a loaded machine a 1.2 s expiry can also
    // lapse for a node that was merely starved of CPU earlier, which then says it resumed.
    const nodeEvents = await b.store.readAll(beforeKill, 100_000);
    const expiries = nodeEvents.filter((e) => e.type === 'NodeExpired' && (e.data as { nodeId: string }).nodeId === victimId);
    expect(expiries.length).toBe(1);
  }, 60_000);
});
