/**
 * `/ready` beside `/health`: 200 only while the store answers, the read models are within
 * PARLEY_READY_MAX_LAG of the log and the node is not draining; otherwise 503 naming the
 * failed check. `/health` stays liveness: 200 throughout. Neither takes a token.
 */
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../engine/node/config/index.js';
import { toNewEvents } from '../../engine/domain/index.js';
import { SqliteEventStore, decorate } from '../../engine/store/index.js';
import { eventually } from '../helpers/eventually.js';
import { api } from '../helpers/http.js';
import { startTestNode, TEST_METRICS_TOKEN, tokenFor, type TestNode } from '../helpers/node.js';
import { tempDir } from '../helpers/temp-dir.js';

const nodes: TestNode[] = [];
afterEach(async () => {
  await Promise.all(nodes.splice(0).map((n) => n.destroy()));
});

async function start(options: Parameters<typeof startTestNode>[0] = {}): Promise<TestNode> {
  const node = await startTestNode(options);
  nodes.push(node);
  return node;
}

/** Appends `n` events straight to the log, past the read models. */
async function appendBehindReadModels(node: TestNode, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    await node.store.append('node-readiness-test', toNewEvents([{ type: 'NodeStarted', data: { nodeId: `lag-${i}` } }], { actor: 'system', commandId: `lag-${i}` }), {
      expectedVersion: 'any',
    });
  }
}

describe('/ready', () => {
  it('is 200 on a running node, with every check named', async () => {
    const node = await start();
    const ready = await api(node.url).get('/ready');
    expect(ready).toEqual({
      status: 200,
      body: {
        status: 'ready',
        nodeId: node.config.nodeId,
        failed: [],
        store: { ok: true },
        readModels: { ok: true, lag: expect.any(Number), maxLag: 10_000, behind: [], stopped: [] },
        draining: false,
      },
    });
  });

  it('is 503 naming read_models while a read model trails the log by more than the bound, and 200 once it caught up', async () => {
    // In-process read models, so the test can hold them (stop) and let them go (start).
    const node = await start({ readModelThread: false, readyMaxLag: 3 });
    await node.runner.stop();
    await appendBehindReadModels(node, 3);
    expect((await api(node.url).get('/ready')).status).toBe(200); // at the bound: still ready
    await appendBehindReadModels(node, 1);
    const lagging = await api(node.url).get('/ready');
    expect(lagging.status).toBe(503);
    expect(lagging.body).toMatchObject({ status: 'not_ready', failed: ['read_models'], store: { ok: true }, draining: false });
    expect(lagging.body.readModels).toMatchObject({ ok: false, maxLag: 3 });
    expect(lagging.body.readModels.lag).toBeGreaterThanOrEqual(4);
    expect(lagging.body.readModels.behind).toContain('history');
    expect((await api(node.url).get('/health')).status).toBe(200);

    await node.runner.start();
    await eventually(async () => expect((await api(node.url).get('/ready')).body).toMatchObject({ status: 'ready', failed: [] }), 10_000);
  });

  it('is 503 naming store when the store does not answer in time', async () => {
    const dir = tempDir();
    const sqlite = new SqliteEventStore({ file: join(dir.path, 'events.sqlite') });
    let hang = false;
    const store = decorate(sqlite, {
      readAll: (after, limit) => (hang ? new Promise<never>(() => undefined) : sqlite.readAll(after, limit)),
    });
    const node = await start({ store });
    hang = true;
    const down = await api(node.url).get('/ready');
    expect(down.status).toBe(503);
    expect(down.body).toMatchObject({ status: 'not_ready', store: { ok: false, error: expect.stringContaining('no answer') } });
    expect(down.body.failed).toContain('store');
    hang = false;
    expect((await api(node.url).get('/ready')).status).toBe(200);
    dir.remove();
  });

  it('is 503 naming draining from the moment the node is told to stop, while /health stays 200', async () => {
    // A drain long enough that the node is still up when asked; close() is awaited at the end.
    const node = await start({ drainSeconds: 1 });
    const closing = node.close();
    const draining = await api(node.url).get('/ready');
    expect(draining.status).toBe(503);
    expect(draining.body).toMatchObject({ status: 'not_ready', failed: ['draining'], draining: true, store: { ok: true } });
    expect((await api(node.url).get('/health')).status).toBe(200);
    await closing;
  });
});

describe('/metrics access', () => {
  it('is off (404) without a scrape token, and refuses users with one', async () => {
    const off = await start({ metricsToken: undefined });
    expect(await api(off.url, tokenFor('root', { role: 'admin' })).get('/metrics')).toMatchObject({ status: 404, body: { code: 'not_found' } });
    expect(await api(off.url, TEST_METRICS_TOKEN).get('/metrics')).toMatchObject({ status: 404 });

    const on = await start();
    for (const t of [undefined, tokenFor('ops'), tokenFor('root', { role: 'admin' }), TEST_METRICS_TOKEN.slice(1), `${TEST_METRICS_TOKEN}x`]) {
      expect(await api(on.url, t).get('/metrics'), String(t)).toMatchObject({ status: 401, body: { code: 'unauthorized' } });
    }
    const scraped = await api(on.url, TEST_METRICS_TOKEN).get('/metrics');
    expect(scraped.status).toBe(200);
    expect(scraped.body).toMatch(/^parley_projection_lag_events\{/m);
  });

  it('takes the scrape token from PARLEY_METRICS_TOKEN and refuses a short one', () => {
    const dir = tempDir();
    const env = { DATA_DIR: dir.path, PARLEY_JWT_SECRET: 'x'.repeat(32) };
    expect(loadConfig({ ...env, PARLEY_METRICS_TOKEN: 'a-long-enough-scrape-token' }).metricsToken).toBe('a-long-enough-scrape-token');
    expect(loadConfig(env).metricsToken).toBeUndefined();
    expect(() => loadConfig({ ...env, PARLEY_METRICS_TOKEN: 'short' })).toThrow(/PARLEY_METRICS_TOKEN must be at least 16/);
    expect(() => loadConfig({ ...env, PARLEY_DRAIN_SECONDS: '-1' })).toThrow(/PARLEY_DRAIN_SECONDS/);
    expect(loadConfig({ ...env, PARLEY_DRAIN_SECONDS: '0', PARLEY_READY_MAX_LAG: '50' })).toMatchObject({ drainSeconds: 0, readyMaxLag: 50 });
    dir.remove();
  });
});
