/** /metrics in Prometheus format, group commit seen through it, and the OpenAPI document. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../helpers/eventually.js';
import { api } from '../helpers/http.js';
import { startTestNode, TEST_METRICS_TOKEN, tokenFor, type TestNode } from '../helpers/node.js';
import { connectWs } from '../helpers/ws-client.js';

let node: TestNode;
beforeAll(async () => {
  node = await startTestNode({ rateLimitPerConnection: { perSecond: 0, burst: 0 }, rateLimitPerUser: { perSecond: 0, burst: 0 } });
});
afterAll(async () => {
  await node.destroy();
});

function metric(text: string, name: string): number {
  const line = text.split('\n').find((l) => l.startsWith(name + ' ') || l.startsWith(name + '{'));
  if (!line) throw new Error(`metric ${name} is missing`);
  return Number(line.split(' ').pop());
}

describe('observability', () => {
  it('batches appends from many connections into shared commits and exposes the required metrics', async () => {
    const { body: c } = await api(node.url, tokenFor('alice')).post('/v1/conversations', { title: 'Busy', members: [] });
    const sockets = await Promise.all(Array.from({ length: 20 }, () => connectWs(node.url, tokenFor('alice'))));
    await Promise.all(
      sockets.flatMap((s, i) =>
        Array.from({ length: 10 }, (_, j) => s.command(`g${i}-${j}`, { type: 'PostMessage', conversationId: c.id, text: `${i}/${j}` })),
      ),
    );
    const text = (await api(node.url, TEST_METRICS_TOKEN).get('/metrics')).body as string;
    const appends = metric(text, 'parley_store_batch_appends_sum');
    const commits = metric(text, 'parley_store_batch_appends_count');
    // 200 concurrent posts (plus presence and start-up events) in fewer commits than appends:
    // some commits carried several appends (one fsync for many).
    expect(appends).toBeGreaterThanOrEqual(200);
    expect(commits).toBeLessThan(appends);
    // Every group commit's time in the writer thread (its fsync) is counted, apart from the wait around it.
    expect(metric(text, 'parley_store_transaction_seconds_count')).toBeGreaterThanOrEqual(1);
    expect(metric(text, 'parley_store_transaction_seconds_count')).toBeLessThanOrEqual(commits);
    expect(metric(text, 'parley_ws_connections')).toBe(20);
    expect(text).toMatch(/parley_commands_total\{type="PostMessage",outcome="ok"[^}]*\} 200/);
    expect(metric(text, 'parley_events_appended_total')).toBeGreaterThanOrEqual(201);
    expect(metric(text, 'parley_append_seconds_count')).toBeGreaterThanOrEqual(200);
    // Read models are applied on their own thread, just after the acks: their lag drops to 0.
    await eventually(async () =>
      expect((await api(node.url, TEST_METRICS_TOKEN).get('/metrics')).body).toMatch(/parley_projection_lag_events\{projection="history"[^}]*\} 0/),
    );
    expect(text).toContain('parley_process_resident_memory_bytes');
    expect(text).toContain('parley_nodejs_eventloop_lag_seconds');
    for (const s of sockets) s.close();
  });

  it('serves an OpenAPI document describing the routes', async () => {
    const { body } = await api(node.url, tokenFor('ops')).get('/docs/json');
    expect(body.openapi).toMatch(/^3\./);
    expect(Object.keys(body.paths)).toEqual(
      expect.arrayContaining(['/v1/conversations', '/v1/conversations/{id}/messages', '/v1/conversations/{id}/presence', '/health']),
    );
    expect(body.paths['/v1/conversations/{id}/messages'].post.requestBody.content['application/json'].schema.required).toEqual([
      'clientMessageId',
      'text',
    ]);
  });
});
