/**
 * NATS goes away entirely for longer than the node's retry budget: commands get the coded
 * `unavailable` error (503 over HTTP, an `error` frame over WebSocket) instead of hanging;
 * when the server is back (same port, same store) the node recovers by itself: posting
 * works and subscribers get live events again.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../helpers/eventually.js';
import { api } from '../helpers/http.js';
import { startNatsServer, type NatsSingle } from '../helpers/nats-server.js';
import { startTestNode, TEST_METRICS_TOKEN, tokenFor, type TestNode } from '../helpers/node.js';
import { connectWs } from '../helpers/ws-client.js';

const BUDGET_MS = 1500;
let nats: NatsSingle;
let node: TestNode;

beforeAll(async () => {
  nats = await startNatsServer();
  node = await startTestNode({
    natsUrls: [nats.url],
    streamName: `PARLEY_O_${randomUUID().slice(0, 8)}`,
    natsRetryBudgetMs: BUDGET_MS,
    heartbeatSeconds: 0.25,
    presenceExpirySeconds: 1,
  });
});
afterAll(async () => {
  await node?.destroy();
  await nats?.stop();
});

describe('a NATS outage longer than the retry budget', () => {
  it('answers unavailable, not a hang, and recovers by itself when NATS is back', async () => {
    const alice = api(node.url, tokenFor('alice'));
    const id: string = (await alice.post('/v1/conversations', { title: 'outage', members: ['bob'] })).body.id;
    const bob = await connectWs(node.url, tokenFor('bob'));
    await bob.next((f) => f.type === 'ready');
    bob.send({ type: 'subscribe', conversations: [{ conversationId: id, afterSeq: 0 }] });
    await bob.next((f) => f.type === 'caught-up');
    expect((await alice.post(`/v1/conversations/${id}/messages`, { clientMessageId: 'before', text: 'before' })).status).toBe(201);

    await nats.kill('SIGKILL');
    const started = Date.now();
    const during = await alice.post(`/v1/conversations/${id}/messages`, { clientMessageId: 'during', text: 'during' });
    const took = Date.now() - started;
    expect(during.status).toBe(503);
    expect(during.body.code).toBe('unavailable');
    // Bounded: a command makes up to three NATS calls in a row (idempotency lookup in the
    // handler and in the appender, then the publish), each with its own retry budget.
    expect(took).toBeLessThan(3 * BUDGET_MS + 3000);

    const from = bob.frames.length;
    bob.send({ type: 'command', id: 'ws-during', command: { type: 'PostMessage', conversationId: id, text: 'ws during' } });
    const frame = await bob.next((f) => (f.type === 'ack' || f.type === 'error') && f.id === 'ws-during', 3 * BUDGET_MS + 5000, from);
    expect(frame).toMatchObject({ type: 'error', code: 'unavailable' });

    await nats.restart();
    const back = Date.now();
    // The same command id again: it was never appended, so now it is, once.
    const after = await eventually(async () => {
      const r = await alice.post(`/v1/conversations/${id}/messages`, { clientMessageId: 'during', text: 'during' });
      expect(r.status).toBe(201);
      return r;
    }, 20_000, 200);
    const recoveredIn = Date.now() - back;
    // Live delivery works again too (the node's feed consumer was recreated).
    await bob.next((f) => f.type === 'event' && f.event.seq === after.body.seq, 15_000);
    const log = await node.store.readStream(`conversation-${id}`);
    expect(log.filter((e) => e.type === 'MessagePosted').map((e) => (e.data as { text: string }).text)).toEqual(['before', 'during']);
    const metrics = (await api(node.url, TEST_METRICS_TOKEN).get('/metrics')).body as string;
    expect(metrics).toMatch(/^parley_nats_reconnects_total\{[^}]*\} [1-9]/m);
    console.info(`NATS outage: unavailable after ${took} ms (budget ${BUDGET_MS} ms); posting again ${recoveredIn} ms after NATS was back`);
    bob.close();
  }, 60_000);
});
