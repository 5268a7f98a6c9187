/**
 * Read models are applied on their own thread (projections/read-models.ts), off the
 * node's event loop: a projection held there delays no ack and no live delivery; a
 * thread that dies is reported, its readers get `unavailable` rather than a hang, and it
 * is started again and catches up with every event applied exactly once; and under load
 * every reader still sees its own writes.
 */
import { threadId } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import type { ReadModels } from '../../projections/index.js';
import { eventually } from '../helpers/eventually.js';
import { api } from '../helpers/http.js';
import { startTestNode, TEST_METRICS_TOKEN, tokenFor, type TestNode } from '../helpers/node.js';
import { ENTERED, RELEASED, TIMED_OUT, applications, blocking, mainThreadWriter } from '../helpers/thread-projections.js';
import { connectWs } from '../helpers/ws-client.js';

const NO_LIMIT = { perSecond: 0, burst: 0 };
let node: TestNode | undefined;
afterEach(async () => {
  await node?.destroy();
  node = undefined;
});

const readModelsOf = (n: TestNode) => n.runner as ReadModels;
const applied = (n: TestNode) =>
  n.runner.db.prepare('SELECT position, times, thread FROM test_applications ORDER BY position').all() as Array<{ position: number; times: number; thread: number }>;

async function metric(n: TestNode, name: string, projection: string): Promise<number> {
  const text = (await api(n.url, TEST_METRICS_TOKEN).get('/metrics')).body as string;
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(`projection="${projection}"`));
  return line === undefined ? Number.NaN : Number(line.slice(line.lastIndexOf(' ') + 1));
}

describe('the read-model thread', () => {
  it('holds up no ack and no live delivery while a projection is busy on it', async () => {
    const shared = new SharedArrayBuffer(3 * Int32Array.BYTES_PER_ELEMENT);
    const cells = new Int32Array(shared);
    node = await startTestNode({ projections: [blocking(shared), applications] });
    const alice = api(node.url, tokenFor('alice'));
    const { body: conv } = await alice.post('/v1/conversations', { title: 'busy', members: ['bob'] });
    const bob = await connectWs(node.url, tokenFor('bob'));
    await bob.next((f) => f.type === 'ready');
    bob.send({ type: 'subscribe', conversations: [{ conversationId: conv.id, afterSeq: 0 }] });
    await bob.next((f) => f.type === 'caught-up');
    try {
      expect((await alice.post(`/v1/conversations/${conv.id}/messages`, { clientMessageId: 'b', text: 'block' })).status).toBe(201);
      await eventually(() => expect(Atomics.load(cells, ENTERED)).toBe(1));

      // The read models are held; the event loop is not: an ack and a live delivery go through.
      expect((await alice.post(`/v1/conversations/${conv.id}/messages`, { clientMessageId: 'a', text: 'after' })).status).toBe(201);
      await bob.next((f) => f.type === 'event' && (f.event.data as { text?: string }).text === 'after');
      expect(Atomics.load(cells, RELEASED)).toBe(0);
      expect(Atomics.load(cells, TIMED_OUT)).toBe(0);
    } finally {
      Atomics.store(cells, RELEASED, 1);
      Atomics.notify(cells, RELEASED);
      bob.close();
    }

    // Once it is let go, readers see both posts (they waited for the position they need).
    const { body } = await alice.get(`/v1/conversations/${conv.id}/messages`);
    expect(body.messages.map((m: { text: string }) => m.text)).toEqual(['block', 'after']);
    expect(Atomics.load(cells, TIMED_OUT)).toBe(0);
    const threads = new Set(applied(node).map((a) => a.thread));
    expect(threads.size).toBe(1);
    expect(threads.has(threadId)).toBe(false);
    expect([...threads][0]).toBe(readModelsOf(node).thread!.threadId);
  });

  it('is restarted when it dies: reported, readers told unavailable, caught up with every event applied once', async () => {
    node = await startTestNode({ projections: [applications], rateLimitPerConnection: NO_LIMIT, rateLimitPerUser: NO_LIMIT });
    const alice = api(node.url, tokenFor('alice'));
    const { body: conv } = await alice.post('/v1/conversations', { title: 'crash', members: ['bob'] });
    const post = (i: number) => alice.post(`/v1/conversations/${conv.id}/messages`, { clientMessageId: `m${i}`, text: `m${i}` });
    const thread = readModelsOf(node).thread!;
    const first = thread.threadId;
    expect(first).not.toBeNull();

    // Posts keep coming while the thread is killed in the middle of them.
    const acks: Array<Promise<{ status: number }>> = [];
    for (let i = 0; i < 20; i++) acks.push(post(i));
    await Promise.all(acks.slice(0, 5));
    const head = await node.store.headPosition();
    await thread.kill();
    // Down: a reader of a position it had not applied is refused at once, not kept waiting.
    await expect(node.runner.waitFor(head + 1000)).rejects.toMatchObject({ code: 'unavailable' });
    expect(node.runner.statusOf('history')).toMatchObject({ state: 'failed', failure: { code: 'THREAD_EXIT' } });
    for (let i = 20; i < 40; i++) acks.push(post(i));
    expect((await Promise.all(acks)).map((r) => r.status)).toEqual(Array(40).fill(201));

    // Back: a new thread, every read model running and caught up.
    await eventually(() => {
      expect(thread.threadId).not.toBeNull();
      for (const name of node!.runner.projectionNames) expect(node!.runner.statusOf(name)?.state).toBe('running');
    }, 20_000);
    expect(thread.threadId).not.toBe(first);
    await node.runner.waitFor(await node.store.headPosition());
    const { body } = await alice.get(`/v1/conversations/${conv.id}/messages?limit=1000`);
    expect(body.messages.map((m: { text: string }) => m.text).sort()).toEqual(Array.from({ length: 40 }, (_, i) => `m${i}`).sort());
    const rows = applied(node);
    expect(rows).toHaveLength(40);
    expect(rows.filter((r) => r.times !== 1)).toEqual([]);
    expect(await metric(node, 'parley_projection_errors_total', 'history')).toBeGreaterThanOrEqual(1);
    expect(await metric(node, 'parley_projection_failed', 'history')).toBe(0);
  });

  it('keeps read-your-writes for many writers at once, beside a projection that writes from the main thread', async () => {
    node = await startTestNode({ projections: [mainThreadWriter], rateLimitPerConnection: NO_LIMIT, rateLimitPerUser: NO_LIMIT });
    const errors: string[] = [];
    const runner = readModelsOf(node);
    const users = Array.from({ length: 20 }, (_, i) => `u${i}`);
    const owner = api(node.url, tokenFor('owner'));
    const { body: conv } = await owner.post('/v1/conversations', { title: 'load', members: users });
    const misses: string[] = [];
    await Promise.all(
      users.map(async (user) => {
        const client = api(node!.url, tokenFor(user));
        for (let i = 0; i < 10; i++) {
          const text = `${user}-${i}`;
          const { status, body: posted } = await client.post(`/v1/conversations/${conv.id}/messages`, { clientMessageId: text, text });
          expect(status).toBe(201);
          const reacted = await client.post(`/v1/conversations/${conv.id}/messages/${posted.messageId}/reactions`, { emoji: '👍' });
          expect(reacted.status).toBe(200);
          // Straight after the acks, from the same node: the read model includes the post and the reaction.
          const { body } = await client.get(`/v1/conversations/${conv.id}/messages?after=${posted.seq - 1}&limit=1`);
          if (body.messages[0]?.text !== text || body.messages[0]?.reactions['👍']?.[0] !== user) misses.push(text);
        }
      }),
    );
    expect(misses).toEqual([]);
    // Two writers on one file wait for each other's lock; neither read model stopped on SQLITE_BUSY.
    for (const name of runner.projectionNames) errors.push(...(runner.statusOf(name)?.failure ? [name] : []));
    expect(errors).toEqual([]);
    expect(await metric(node, 'parley_projection_errors_total', 'history')).toBeNaN();
    expect(await metric(node, 'parley_projection_errors_total', 'test-main-writer')).toBeNaN();
    expect(runner.thread?.threadId).not.toBe(threadId);
  });
});
