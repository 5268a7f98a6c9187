/** Every parley_* metric the example alert rules and dashboard use exists in /metrics. */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api } from '../helpers/http.js';
import { startTestNode, TEST_METRICS_TOKEN, tokenFor, type TestNode } from '../helpers/node.js';

const files = ['deploy/prometheus/alerts.yml', 'deploy/grafana/parley-dashboard.json'];
let node: TestNode;
beforeAll(async () => {
  node = await startTestNode();
});
afterAll(async () => {
  await node.destroy();
});

function namesIn(text: string): Set<string> {
  // Histogram series are named after their family: strip _bucket, _sum, _count.
  return new Set([...text.matchAll(/\bparley_[a-z0-9_]+/g)].map((m) => m[0].replace(/_(bucket|sum|count)$/, '')));
}

describe('deploy/ examples', () => {
  it('name only metrics that a node exports', async () => {
    const exposition = (await api(node.url, TEST_METRICS_TOKEN).get('/metrics')).body as string;
    const exported = new Set([...exposition.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]!));
    for (const file of files) {
      const names = namesIn(readFileSync(new URL(`../../${file}`, import.meta.url), 'utf8'));
      expect(names.size).toBeGreaterThan(5);
      const missing = [...names].filter((n) => !exported.has(n));
      expect(missing, `${file} names metrics the node does not export`).toEqual([]);
    }
    JSON.parse(readFileSync(new URL('../../deploy/grafana/parley-dashboard.json', import.meta.url), 'utf8'));
  });
});
