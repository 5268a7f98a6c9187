/**
 * A running node across `parley repartition` (1 → 3 partitions): before the switch it
 * posts; from the switch on it answers commands with the retryable `unavailable` and keeps
 * serving reads; restarted on the same data directory with PARLEY_PARTITIONS=3 it opens
 * generation 1, its read models rebuild from the new log (checkpoints of another count),
 * history is whole, a retried command (same clientMessageId) is not appended twice, and
 * new posts land. After 3 → 1 → 3 while it was down (the same count, another generation)
 * it refuses to start on its read models, and starts once they are removed.
 */
import { randomUUID } from 'node:crypto';
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clusterLogOptions } from '../../engine/cluster/index.js';
import { partitionsOf } from '../../engine/store/index.js';
import { repartition } from '../../engine/store/jetstream/index.js';
import { api } from '../helpers/http.js';
import { startNatsServer, type NatsSingle } from '../helpers/nats-server.js';
import { startTestNode, tokenFor, type TestNode } from '../helpers/node.js';
import { tempDir } from '../helpers/temp-dir.js';

let nats: NatsSingle;
const dir = tempDir('parley-repartition-node-');
const streamName = `RP_NODE_${randomUUID().slice(0, 8)}`;
let node: TestNode | undefined;

beforeAll(async () => {
  nats = await startNatsServer();
}, 60_000);
afterAll(async () => {
  await node?.close();
  dir.remove();
  await nats?.stop();
});

const base = () =>
  clusterLogOptions({ ...cluster(1), nodeId: 'op', natsRetryBudgetMs: 5000, heartbeatSeconds: 5, presenceExpirySeconds: 15 }, {}, 1, () => undefined);
const cluster = (partitions: number) => ({ natsUrls: [nats.url], streamName, partitions, replicas: 1, dataDir: dir.path });

async function post(conversationId: string, clientMessageId: string, text: string) {
  return api(node!.url, tokenFor('alice')).post(`/v1/conversations/${conversationId}/messages`, { clientMessageId, text });
}

async function history(conversationId: string): Promise<string[]> {
  const page = await api(node!.url, tokenFor('bob')).get(`/v1/conversations/${conversationId}/messages?after=0`);
  expect(page.status).toBe(200);
  return page.body.messages.map((m: { text: string }) => m.text);
}

describe('a node across parley repartition', () => {
  it('refuses commands with unavailable from the switch until restarted, then serves generation 1', async () => {
    node = await startTestNode(cluster(1));
    const created = await api(node.url, tokenFor('alice')).post('/v1/conversations', { title: 'before', members: ['bob'] });
    expect(created.status).toBe(201);
    const c = created.body.id as string;
    const ids = [randomUUID(), randomUUID(), randomUUID()];
    const seqs: number[] = [];
    for (const [i, id] of ids.entries()) {
      const r = await post(c, id, `m${i}`);
      expect(r.status).toBe(201);
      seqs.push(r.body.seq);
    }

    const result = await repartition({ base: base(), to: 3 });
    expect(result.to).toEqual({ generation: 1, partitions: 3 });

    const t0 = Date.now();
    const refused = await post(c, randomUUID(), 'during');
    console.info(`refused in ${Date.now() - t0} ms: ${JSON.stringify(refused.body)} (HTTP ${refused.status})`);
    expect(refused.body.code, JSON.stringify(refused.body)).toBe('unavailable');
    expect(await history(c)).toEqual(['m0', 'm1', 'm2']); // reads of the old log go on

    const t1 = Date.now();
    await node.close();
    node = await startTestNode(cluster(3));
    console.info(`restarted in ${Date.now() - t1} ms`);
    expect(partitionsOf(node.store)).toBe(3);
    expect(await history(c)).toEqual(['m0', 'm1', 'm2']);
    const retried = await post(c, ids[1]!, 'm1');
    expect(retried.body.seq, JSON.stringify(retried.body)).toBe(seqs[1]);
    const after = await post(c, randomUUID(), 'after');
    expect(after.status).toBe(201);
    expect(await history(c)).toEqual(['m0', 'm1', 'm2', 'after']);

    // 3 → 1 → 3 while the node is down: same count, another generation.
    await node.close();
    node = undefined;
    await repartition({ base: base(), to: 1 });
    const back = await repartition({ base: base(), to: 3 });
    expect(back.to).toEqual({ generation: 3, partitions: 3 });
    await expect(startTestNode(cluster(3))).rejects.toMatchObject({ code: 'read_models_of_another_generation' });
    for (const f of readdirSync(dir.path)) if (f.startsWith('readmodels.sqlite')) rmSync(join(dir.path, f));
    node = await startTestNode(cluster(3));
    expect(await history(c)).toEqual(['m0', 'm1', 'm2', 'after']);
  }, 120_000);
});
