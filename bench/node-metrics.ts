/** Reads figures a benchmark wants to explain from a running node's `/metrics`. */
import { signBenchToken } from './token.js';
import { BENCH_METRICS_TOKEN } from './jwt.js';

/** Mean appends per group commit (one fsync each) since the node started. */
export async function meanGroupCommit(url: string): Promise<number | undefined> {
  const m = await histograms(url, ['parley_store_batch_appends']);
  const h = m?.get('parley_store_batch_appends');
  return h && h.count > 0 ? h.sum / h.count : undefined;
}

/** Sum and count of some unlabelled histograms of the node's /metrics (undefined when unreadable). */
export async function histograms(url: string, names: string[]): Promise<Map<string, { sum: number; count: number }> | undefined> {
  try {
    const res = await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${BENCH_METRICS_TOKEN}` } });
    if (!res.ok) return undefined;
    const text = await res.text();
    const read = (name: string) => Number(new RegExp(`^${name}(?:\\{[^}]*\\})?\\s+([\\d.e+-]+)`, 'm').exec(text)?.[1] ?? NaN);
    return new Map(names.map((name) => [name, { sum: read(`${name}_sum`), count: read(`${name}_count`) }]));
  } catch {
    return undefined;
  }
}
