/**
 * Acknowledged means durable: a node killed with SIGKILL right after acks comes back
 * with every acknowledged message at the same seq, and retries stay exactly-once.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { api } from '../helpers/http.js';
import { spawnNode, tokenFor, type SpawnedNode } from '../helpers/node.js';
import { tempDir } from '../helpers/temp-dir.js';
import { connectWs } from '../helpers/ws-client.js';

const dirs: Array<{ remove: () => void }> = [];
const nodes: SpawnedNode[] = [];
afterEach(async () => {
  for (const n of nodes.splice(0)) await n.kill('SIGKILL');
  for (const d of dirs.splice(0)) d.remove();
});

async function freshNode(dataDir?: string) {
  const dir = dataDir ? undefined : tempDir();
  if (dir) dirs.push(dir);
  const node = await spawnNode(dataDir ?? dir!.path, { PARLEY_RATE_PER_CONNECTION: '0', PARLEY_RATE_PER_USER: '0' });
  nodes.push(node);
  return { node, dataDir: dataDir ?? dir!.path };
}

describe('durability', () => {
  it('keeps every acknowledged message, with its seq, through kill -9 and restart', async () => {
    const { node, dataDir } = await freshNode();
    const alice = api(node.url, tokenFor('alice'));
    const { body: c } = await alice.post('/v1/conversations', { title: 'Durable', members: ['bob'] });
    const s = await connectWs(node.url, tokenFor('alice'));
    await s.next((f) => f.type === 'ready');
    // Many commands in flight at once, so they share group commits.
    const acks = new Map<string, number>();
    let fiftyAcked!: () => void;
    const fifty = new Promise<void>((r) => (fiftyAcked = r));
    s.ws.on('message', (raw) => {
      const f = JSON.parse(raw.toString());
      if (f.type === 'ack') acks.set(f.id, f.result.seq);
      if (acks.size === 50) fiftyAcked();
    });
    for (let i = 0; i < 300; i++) {
      s.send({ type: 'command', id: `k${i}`, command: { type: 'PostMessage', conversationId: c.id, text: `message ${i}` } });
    }
    await fifty;
    await node.kill('SIGKILL');
    const acked = new Map(acks);
    expect(acked.size).toBeGreaterThanOrEqual(50);

    const { node: again } = await freshNode(dataDir);
    const bob = api(again.url, tokenFor('bob'));
    const { body } = await bob.get(`/v1/conversations/${c.id}/messages?limit=1000`);
    const bySeq = new Map<number, string>(body.messages.map((m: { seq: number; text: string }) => [m.seq, m.text]));
    for (const [id, seq] of acked) expect(bySeq.get(seq)).toBe(`message ${id.slice(1)}`);
    const seqs = body.messages.map((m: { seq: number }) => m.seq);
    expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => i + 2));

    // Retrying everything after the restart appends only what had not been appended.
    const retry = await connectWs(again.url, tokenFor('alice'));
    const results = await Promise.all(
      Array.from({ length: 300 }, (_, i) =>
        retry.command(`k${i}`, { type: 'PostMessage', conversationId: c.id, text: `message ${i}` }),
      ),
    );
    // All at once, as a client resending its whole outbox would: the repeats (found duplicate
    // only at the append) must not crowd out the new commands queued behind them.
    const refused = results.filter((r) => (r as { type: string }).type !== 'ack');
    expect(refused, `${refused.length} of 300 retries refused`).toEqual([]);
    for (const [id, seq] of acked) {
      const r = results[Number(id.slice(1))] as { type: string; duplicate: boolean; result: { seq: number } };
      expect(r).toMatchObject({ type: 'ack', duplicate: true, result: { seq } });
    }
    const all = await bob.get(`/v1/conversations/${c.id}/messages?limit=1000`);
    // What the restarted node logged, should this fail (a read model stopped, say).
    expect(all.body.messages, again.problems()).toHaveLength(300);
    expect(new Set(all.body.messages.map((m: { text: string }) => m.text)).size).toBe(300);
    retry.close();
    // A bound for two cold node starts on a loaded machine, not a timing.
  }, 120_000);

  it('answers a repeated clientMessageId over HTTP with the original result after a restart', async () => {
    const { node, dataDir } = await freshNode();
    const alice = () => api(node.url, tokenFor('alice'));
    const { body: c } = await alice().post('/v1/conversations', { title: 'Idem', members: [] });
    const first = await alice().post(`/v1/conversations/${c.id}/messages`, { clientMessageId: 'same', text: 'once' });
    expect(first.status).toBe(201);
    await node.kill('SIGTERM');
    const { node: again } = await freshNode(dataDir);
    const repeat = await api(again.url, tokenFor('alice')).post(`/v1/conversations/${c.id}/messages`, { clientMessageId: 'same', text: 'once' });
    expect(repeat).toEqual({ status: 200, body: first.body });
    const { body } = await api(again.url, tokenFor('alice')).get(`/v1/conversations/${c.id}/messages`);
    expect(body.messages).toHaveLength(1);
  });
});
