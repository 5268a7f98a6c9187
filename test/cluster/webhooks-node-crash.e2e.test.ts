/**
 * kill -9 of the node that delivers webhooks (a spawned `parley serve` in a cluster over one
 * nats-server): its lease runs out and the surviving node takes over from the cursor the
 * dead one left in the log, so every event still arrives, in order per conversation, and
 * only events past that cursor can arrive twice (same webhook-id).
 */
import { randomUUID } from 'node:crypto';
import { afterAll, expect, it } from 'vitest';
import { eventually } from '../helpers/eventually.js';
import { api } from '../helpers/http.js';
import { startNatsServer, type NatsSingle } from '../helpers/nats-server.js';
import { spawnNode, startTestNode, tokenFor, type SpawnedNode, type TestNode } from '../helpers/node.js';
import { tempDir } from '../helpers/temp-dir.js';
import { WEBHOOK_TEST_ENV, WebhookReceiver } from '../helpers/webhook-receiver.js';

let nats: NatsSingle | undefined;
let victim: SpawnedNode | undefined;
let survivor: TestNode | undefined;
const victimDir = tempDir();
const receiver = new WebhookReceiver();
afterAll(async () => {
  await victim?.kill('SIGKILL');
  await survivor?.destroy();
  await nats?.stop();
  await receiver.stop();
  victimDir.remove();
});

it('hands delivery to a surviving node when the delivering node is killed', async () => {
  await receiver.start();
  nats = await startNatsServer();
  const streamName = `PARLEY_WK_${randomUUID().slice(0, 8)}`;
  victim = await spawnNode(victimDir.path, { ...WEBHOOK_TEST_ENV, NATS_URL: nats.url, PARLEY_STREAM: streamName });
  const registered = await api(victim.url, tokenFor('root', { role: 'admin' })).post('/v1/admin/webhooks', { url: receiver.url });
  expect(registered.status).toBe(201);
  receiver.secrets = [registered.body.secret];
  // The victim is alone, so it takes the lease; the survivor joins after.
  await eventually(async () => expect((await api(victim!.url, tokenFor('root', { role: 'admin' })).get('/v1/admin/webhooks')).body.deliveringNode).not.toBe(''));
  const victimId = (await api(victim.url, tokenFor('root', { role: 'admin' })).get('/v1/admin/webhooks')).body.deliveringNode as string;
  survivor = await startTestNode({ natsUrls: [nats.url], streamName, env: WEBHOOK_TEST_ENV });
  expect(survivor.config.nodeId).not.toBe(victimId);

  const alice = api(survivor.url, tokenFor('alice'));
  const conv = (await alice.post('/v1/conversations', { title: 'crash', members: [] })).body.id as string;
  for (let i = 0; i < 3; i++) await alice.post(`/v1/conversations/${conv}/messages`, { clientMessageId: `before-${i}`, text: 'before' });
  await eventually(() => expect(receiver.accepted.length).toBe(4));
  await victim.kill('SIGKILL');

  for (let i = 0; i < 3; i++) await alice.post(`/v1/conversations/${conv}/messages`, { clientMessageId: `after-${i}`, text: 'after' });
  await eventually(() => expect(new Set(receiver.accepted.map((d) => d.seq)).size).toBe(7), 30_000);
  const admin = api(survivor.url, tokenFor('root', { role: 'admin' }));
  expect((await admin.get('/v1/admin/webhooks')).body.deliveringNode).toBe(survivor.config.nodeId);
  // In order: a redelivery after the takeover repeats a run from the cursor, never goes back further.
  const firsts = [...new Map(receiver.accepted.map((d) => [d.seq, d] as const)).keys()];
  expect(firsts).toEqual([1, 2, 3, 4, 5, 6, 7]);
  const seqs = receiver.accepted.map((d) => d.seq);
  for (let i = 1; i < seqs.length; i++) if (seqs[i]! < seqs[i - 1]!) expect(seqs.slice(i)).toEqual([...Array(seqs.length - i)].map((_, k) => seqs[i]! + k));
  expect(receiver.rejected).toBe(0);
}, 180_000);
