/**
 * Nodes over a 3-server NATS JetStream cluster (R3 stream): SIGKILL the server leading
 * the stream while clients post through both nodes. Posting goes on after a short pause,
 * nothing acknowledged is lost, and the restarted server rejoins as a current replica.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { eventually } from '../helpers/eventually.js';
import { api } from '../helpers/http.js';
import { startNatsCluster, type NatsCluster } from '../helpers/nats-server.js';
import { startTestNode, TEST_METRICS_TOKEN, tokenFor, type TestNode } from '../helpers/node.js';
import { connectWs } from '../helpers/ws-client.js';

let nats: NatsCluster;
let nodes: TestNode[] = [];
let nc: NatsConnection;
const streamName = `PARLEY_F_${randomUUID().slice(0, 8)}`;

beforeAll(async () => {
  nats = await startNatsCluster(3);
  const cluster = { natsUrls: nats.urls, streamName, replicas: 3, heartbeatSeconds: 1, presenceExpirySeconds: 5 };
  nodes.push(await startTestNode(cluster));
  nodes.push(await startTestNode(cluster));
  nc = await connect({ servers: nats.urls, maxReconnectAttempts: -1, reconnectTimeWait: 250 });
});
afterAll(async () => {
  await nc?.close();
  await Promise.all(nodes.map((n) => n.destroy()));
  await nats?.stop();
});

describe('a NATS server dies under load', () => {
  it('posting continues after a short pause, nothing acknowledged is lost, the server rejoins', async () => {
    const jsm = await jetstreamManager(nc);
    expect((await jsm.streams.info(streamName)).config.num_replicas).toBe(3);
    const [a, b] = nodes as [TestNode, TestNode];
    const created = await api(a.url, tokenFor('alice')).post('/v1/conversations', { title: 'r3', members: ['bob'] });
    const id: string = created.body.id;
    const watcher = await connectWs(b.url, tokenFor('bob'));
    await watcher.next((f) => f.type === 'ready');
    watcher.send({ type: 'subscribe', conversations: [{ conversationId: id, afterSeq: 0 }] });

    const acked = new Map<string, { seq: number; at: number }>();
    let stop = false;
    let failures = 0;
    const poster = async (user: string, node: TestNode, lane: number) => {
      for (let k = 0; !stop; k++) {
        const clientMessageId = `${user}-${lane}-${k}`;
        for (;;) {
          const r = await api(node.url, tokenFor(user)).post(`/v1/conversations/${id}/messages`, { clientMessageId, text: clientMessageId });
          if (r.status === 201 || r.status === 200) {
            acked.set(clientMessageId, { seq: r.body.seq, at: Date.now() });
            break;
          }
          failures++; // unavailable or conflict: try the same id again
          await new Promise((ok) => setTimeout(ok, 20));
        }
      }
    };
    const posters = [poster('alice', a, 0), poster('alice', a, 1), poster('bob', b, 0), poster('bob', b, 1)];

    await eventually(() => expect(acked.size).toBeGreaterThan(40), 10_000);
    const leader = (await jsm.streams.info(streamName)).cluster?.leader;
    const victim = nats.members.find((m) => m.name === leader) ?? nats.members[0]!;
    await victim.kill('SIGKILL');
    const killedAt = Date.now();
    const atKill = acked.size;
    await eventually(() => expect(acked.size).toBeGreaterThan(atKill + 40), 20_000, 50);
    // The longest time without any acknowledgement, from the kill until posting went on.
    const times = [killedAt, ...[...acked.values()].map((x) => x.at).filter((t) => t > killedAt)].sort((x, y) => x - y);
    const pause = Math.max(...times.slice(1).map((t, i) => t - times[i]!));

    await victim.restart();
    const atRestart = acked.size;
    await eventually(() => expect(acked.size).toBeGreaterThan(atRestart + 20), 15_000, 50);
    stop = true;
    await Promise.all(posters);

    // The restarted server is a current replica again.
    await eventually(async () => {
      const info = await jsm.streams.info(streamName);
      const current = [info.cluster?.leader, ...(info.cluster?.replicas ?? []).filter((r) => r.current).map((r) => r.name)];
      expect(new Set(current)).toEqual(new Set(nats.members.map((m) => m.name)));
    }, 20_000, 200);

    const log = (await a.store.readStream(`conversation-${id}`, { limit: 100_000 })).filter((e) => e.type === 'MessagePosted');
    const bySeq = new Map(log.map((e) => [e.seq, (e.data as { text: string }).text]));
    expect(new Set(log.map((e) => (e.data as { text: string }).text)).size).toBe(log.length);
    for (const [cmid, { seq }] of acked) expect(bySeq.get(seq), cmid).toBe(cmid);
    expect(log.length).toBe(acked.size);
    // Node B's subscriber got everything, in order, through the failover.
    await eventually(() => {
      const seqs = watcher.frames.flatMap((f) => (f.type === 'event' && f.event.type === 'MessagePosted' ? [f.event.seq] : []));
      expect(seqs).toEqual(log.map((e) => e.seq));
    }, 15_000);
    watcher.close();
    const metrics = (await api(a.url, TEST_METRICS_TOKEN).get('/metrics')).body as string;
    const reconnects = Number(/^parley_nats_reconnects_total\{[^}]*\} (\d+)/m.exec(metrics)?.[1] ?? 0);
    console.info(
      `NATS server kill -9: ${acked.size} posts acknowledged (${failures} refused and retried), longest pause ${pause} ms after the kill, node A reconnects ${reconnects}`,
    );
    expect(pause).toBeLessThan(10_000);
  }, 150_000);
});
