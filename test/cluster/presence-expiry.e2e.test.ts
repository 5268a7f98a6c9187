/**
 * Presence across nodes when a node stops answering without dying: SIGSTOP a spawned
 * node (its sockets stay open, its heartbeats stop). Its users show offline elsewhere
 * within the expiry; after SIGCONT the node learns it was declared dead, says it resumed,
 * and its users — still connected — show online again. A node restarted after kill -9
 * starts clean and its users come back when they reconnect.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../helpers/eventually.js';
import { api } from '../helpers/http.js';
import { startNatsServer, type NatsSingle } from '../helpers/nats-server.js';
import { spawnNode, startTestNode, tokenFor, type SpawnedNode, type TestNode } from '../helpers/node.js';
import { tempDir } from '../helpers/temp-dir.js';
import { connectWs } from '../helpers/ws-client.js';

const EXPIRY_SECONDS = 1.2;
let nats: NatsSingle;
let observer: TestNode;
let paused: SpawnedNode;
const pausedDir = tempDir();
const streamName = `PARLEY_P_${randomUUID().slice(0, 8)}`;
const env = () => ({
  NATS_URL: nats.url,
  PARLEY_STREAM: streamName,
  PARLEY_HEARTBEAT_SECONDS: '0.2',
  PARLEY_PRESENCE_EXPIRY_SECONDS: String(EXPIRY_SECONDS),
});

beforeAll(async () => {
  nats = await startNatsServer();
  observer = await startTestNode({ natsUrls: [nats.url], streamName, heartbeatSeconds: 0.2, presenceExpirySeconds: EXPIRY_SECONDS });
  paused = await spawnNode(pausedDir.path, env());
});
afterAll(async () => {
  paused?.process.kill('SIGCONT');
  await paused?.kill('SIGKILL');
  await observer?.destroy();
  await nats?.stop();
  pausedDir.remove();
});

describe('presence when a node goes silent and comes back', () => {
  it('expires a silent node’s users within the bound and brings them back when it resumes or restarts', async () => {
    const id: string = (await api(observer.url, tokenFor('alice')).post('/v1/conversations', { title: 'p', members: ['erin'] })).body.id;
    const erinOnObserver = async () =>
      (await api(observer.url, tokenFor('alice')).get(`/v1/conversations/${id}/presence`)).body.members.find((m: { userId: string }) => m.userId === 'erin');
    const alice = await connectWs(observer.url, tokenFor('alice'));
    await alice.next((f) => f.type === 'ready');
    alice.send({ type: 'subscribe', conversations: [{ conversationId: id, afterSeq: 0 }] });
    await alice.next((f) => f.type === 'caught-up');

    let erin = await connectWs(paused.url, tokenFor('erin'));
    await erin.next((f) => f.type === 'ready');
    await eventually(async () => expect((await erinOnObserver()).online).toBe(true));

    // Silent, not dead: the socket stays open, the heartbeats stop.
    const beforeStop = await observer.store.headPosition();
    paused.process.kill('SIGSTOP');
    const stoppedAt = Date.now();
    const mark = alice.frames.length;
    await eventually(async () => expect((await erinOnObserver()).online).toBe(false), EXPIRY_SECONDS * 1000 + 3000, 25);
    // Slack for the poll and a busy machine; the heartbeats put the bound at the expiry itself.
    expect(Date.now() - stoppedAt).toBeLessThanOrEqual(EXPIRY_SECONDS * 1000 + 1000);
    await alice.next((f) => f.type === 'presence' && f.userId === 'erin' && !f.online, 2000, mark);
    // The survivor recorded the expiry in the log, once (counted from the stop: on a loaded
    // machine the 1.2 s expiry can lapse earlier too, for a node merely starved of CPU).
    await eventually(async () => {
      const all = await observer.store.readAll(beforeStop, 10_000);
      expect(all.filter((e) => e.type === 'NodeExpired').length).toBe(1);
    });

    paused.process.kill('SIGCONT');
    const resumedMark = alice.frames.length;
    await eventually(async () => expect((await erinOnObserver()).online).toBe(true), 10_000, 25);
    await alice.next((f) => f.type === 'presence' && f.userId === 'erin' && f.online, 5000, resumedMark);
    // …and the node itself told the log it is back, so read models rebuilt later agree.
    await eventually(async () => {
      const all = await observer.store.readAll(0, 10_000);
      expect(all.filter((e) => e.type === 'NodeResumed').length).toBeGreaterThanOrEqual(1);
    }, 10_000);

    // kill -9 and restart with the same data dir (same node id): erin is offline until she reconnects.
    erin.close();
    await eventually(async () => expect((await erinOnObserver()).online).toBe(false));
    erin = await connectWs(paused.url, tokenFor('erin'));
    await erin.next((f) => f.type === 'ready');
    await eventually(async () => expect((await erinOnObserver()).online).toBe(true));
    await paused.kill('SIGKILL');
    await eventually(async () => expect((await erinOnObserver()).online).toBe(false), EXPIRY_SECONDS * 1000 + 3000, 25);
    paused = await spawnNode(pausedDir.path, env());
    expect((await erinOnObserver()).online).toBe(false);
    erin = await connectWs(paused.url, tokenFor('erin'));
    await erin.next((f) => f.type === 'ready');
    await eventually(async () => expect((await erinOnObserver()).online).toBe(true), 5000);
    erin.close();
    alice.close();
  }, 60_000);
});
