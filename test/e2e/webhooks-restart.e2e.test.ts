/**
 * A webhook endpoint's cursor survives a crash: a real `parley serve` is killed (SIGKILL)
 * once the cursor past its deliveries is in the log, and the restarted process delivers
 * only what came after, not the events it had delivered before.
 */
import { afterAll, expect, it } from 'vitest';
import { eventually } from '../helpers/eventually.js';
import { api } from '../helpers/http.js';
import { spawnNode, tokenFor, type SpawnedNode } from '../helpers/node.js';
import { tempDir } from '../helpers/temp-dir.js';
import { WEBHOOK_TEST_ENV, WebhookReceiver } from '../helpers/webhook-receiver.js';

const dir = tempDir();
const receiver = new WebhookReceiver();
let serving: SpawnedNode | undefined;
afterAll(async () => {
  await serving?.kill('SIGKILL');
  await receiver.stop();
  dir.remove();
});

it('keeps each endpoint cursor across a kill -9 of parley serve', async () => {
  await receiver.start();
  serving = await spawnNode(dir.path, WEBHOOK_TEST_ENV);
  let admin = api(serving.url, tokenFor('root', { role: 'admin' }));
  let alice = api(serving.url, tokenFor('alice'));
  const registered = await admin.post('/v1/admin/webhooks', { url: receiver.url });
  expect(registered.status).toBe(201);
  receiver.secrets = [registered.body.secret];
  const id = registered.body.webhookId as string;

  const conv = (await alice.post('/v1/conversations', { title: 'crash', members: [] })).body.id as string;
  for (let i = 0; i < 3; i++) expect((await alice.post(`/v1/conversations/${conv}/messages`, { clientMessageId: `before-${i}`, text: `before ${i}` })).status).toBe(201);
  await eventually(() => expect(receiver.accepted.length).toBe(4));
  const last = Math.max(...receiver.accepted.map((d) => d.position));
  // The sentinel: the cursor in the log has passed every delivery.
  await eventually(async () => {
    const list = await admin.get('/v1/admin/webhooks');
    expect(list.body.webhooks[0].cursor).toBeGreaterThanOrEqual(last);
  });
  await serving.kill('SIGKILL');

  serving = await spawnNode(dir.path, WEBHOOK_TEST_ENV);
  admin = api(serving.url, tokenFor('root', { role: 'admin' }));
  alice = api(serving.url, tokenFor('alice'));
  for (let i = 0; i < 2; i++) expect((await alice.post(`/v1/conversations/${conv}/messages`, { clientMessageId: `after-${i}`, text: `after ${i}` })).status).toBe(201);
  await eventually(() => expect(receiver.accepted.length).toBe(6), 30_000);
  expect(receiver.accepted.map((d) => d.seq)).toEqual([1, 2, 3, 4, 5, 6]);
  expect(new Set(receiver.accepted.map((d) => d.id)).size).toBe(6);
  const list = await admin.get('/v1/admin/webhooks');
  expect(list.body.webhooks.map((w: { webhookId: string }) => w.webhookId)).toEqual([id]);
  expect(list.body.deliveringNode).not.toBe('');
  expect(receiver.rejected).toBe(0);
}, 120_000);
