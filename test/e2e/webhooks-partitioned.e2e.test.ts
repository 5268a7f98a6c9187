/**
 * Webhooks on a partitioned log (PARLEY_PARTITIONS=3 on a real nats-server, a real node,
 * a real HTTP receiver that checks signatures with its own code), with a conversation in
 * every partition: each event is delivered once, in order per conversation; the lane's
 * cursor is in the log as a cursor token covering what was delivered; events the receiver
 * refused before a restart are delivered after it, from that cursor, and nothing it took
 * is sent again; an admin redelivers an event of a partition other than 0 by position.
 * The node's built-in read models run on their thread there too.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { conversationStream, LogCursor, partitionOf } from '../../engine/store/index.js';
import type { ReadModels } from '../../projections/index.js';
import { eventually } from '../helpers/eventually.js';
import { api } from '../helpers/http.js';
import { startNatsServer, type NatsSingle } from '../helpers/nats-server.js';
import { startTestNode, tokenFor, type TestNode } from '../helpers/node.js';
import { tempDir } from '../helpers/temp-dir.js';
import { WEBHOOK_TEST_ENV, WebhookReceiver, type Delivery } from '../helpers/webhook-receiver.js';

const N = 3;
const dir = tempDir('parley-webhooks-partitioned-');
const receiver = new WebhookReceiver();
const streamName = `PARLEY_W_${randomUUID().slice(0, 8)}`;
let nats: NatsSingle;
let node: TestNode | undefined;

/** A receiver that fails keeps the lane retrying the same event (none dead-lettered here). */
const env = { ...WEBHOOK_TEST_ENV, PARLEY_WEBHOOK_MAX_ATTEMPTS: '100' };
const start = () => startTestNode({ natsUrls: [nats.url], streamName, partitions: N, replicas: 1, dataDir: dir.path, env });

beforeAll(async () => {
  nats = await startNatsServer();
  await receiver.start();
}, 60_000);
afterAll(async () => {
  await node?.close();
  await receiver.stop();
  await nats?.stop();
  dir.remove();
});

/** The webhooks read model (and every built-in one) is applied on the read-model thread, which is running. */
function expectThreadedReadModels(n: TestNode): void {
  const thread = (n.runner as ReadModels).thread;
  expect(thread?.projectionNames).toContain('webhooks');
  expect(thread?.threadId).toEqual(expect.any(Number));
}

const seqsOf = (conversationId: string): number[] => receiver.accepted.filter((d) => d.conversationId === conversationId).map((d) => d.seq);

async function postInEach(conversations: string[], text: string): Promise<void> {
  for (const c of conversations) {
    const r = await api(node!.url, tokenFor('alice')).post(`/v1/conversations/${c}/messages`, { clientMessageId: randomUUID(), text });
    expect(r.status).toBe(201);
  }
}

async function laneCursor(admin: ReturnType<typeof api>): Promise<string> {
  const list = await admin.get('/v1/admin/webhooks');
  expect(list.status).toBe(200);
  return String(list.body.webhooks[0].cursor);
}

it('delivers every partition once, in order per conversation, and resumes from the lane cursor after a restart', async () => {
  node = await start();
  expectThreadedReadModels(node);
  let admin = api(node.url, tokenFor('root', { role: 'admin' }));
  const registered = await admin.post('/v1/admin/webhooks', { url: receiver.url });
  expect(registered.status).toBe(201);
  receiver.secrets = [registered.body.secret];
  const webhookId = registered.body.webhookId as string;

  // Conversation ids come from the node: create until every partition has one.
  const conversations: string[] = [];
  for (let i = 0; i < 60 && conversations.length < N; i++) {
    const r = await api(node.url, tokenFor('alice')).post('/v1/conversations', { title: `c${i}`, members: [] });
    expect(r.status).toBe(201);
    const p = partitionOf(conversationStream(r.body.id), N);
    if (!conversations.some((c) => partitionOf(conversationStream(c), N) === p)) conversations.push(r.body.id);
  }
  expect(conversations).toHaveLength(N);
  await postInEach(conversations, 'first');
  // Every created conversation delivers its creation; those kept deliver their message too.
  await eventually(() => {
    for (const c of conversations) expect(seqsOf(c)).toEqual([1, 2]);
  });

  // The lane's cursor reaches the log as a token covering every delivery.
  const delivered = receiver.accepted.filter((d) => conversations.includes(d.conversationId));
  await eventually(async () => {
    const cursor = LogCursor.decode(await laneCursor(admin), N);
    for (const d of delivered) expect(cursor.covers(d.position)).toBe(true);
  });

  // The receiver refuses: the lane retries the first refused event and goes no further.
  receiver.mode = 'fail';
  const attempts = receiver.attempts;
  await postInEach(conversations, 'refused');
  await eventually(() => expect(receiver.attempts).toBeGreaterThan(attempts + 1));
  await node.close();
  node = undefined;

  receiver.mode = 'ok';
  node = await start();
  admin = api(node.url, tokenFor('root', { role: 'admin' }));
  expectThreadedReadModels(node);
  await postInEach(conversations, 'after');
  await eventually(() => {
    for (const c of conversations) expect(seqsOf(c)).toEqual([1, 2, 3, 4]);
  }, 30_000);
  // Nothing delivered twice: what was taken before the restart was not sent again.
  expect(new Set(receiver.accepted.map((d) => d.id)).size).toBe(receiver.accepted.length);
  expect(receiver.rejected).toBe(0);
  expect(await laneCursor(admin)).toMatch(/^c1\./);

  // An admin redelivers an event of another partition than 0 by its position.
  const other = receiver.accepted.find((d: Delivery) => d.position % N !== 0)!;
  expect(other).toBeDefined();
  const before = receiver.accepted.length;
  const again = await admin.post(`/v1/admin/webhooks/${webhookId}/dead-letters/${other.position}/redeliver`, {});
  expect(again.status).toBe(200);
  expect(again.body.delivered).toBe(true);
  expect(receiver.accepted.slice(before).map((d) => d.id)).toEqual([other.id]);
}, 120_000);
