/** Reads figures a benchmark wants to explain from a running node's `/metrics`. */
import { signBenchToken } from './token.js';
import { BENCH_METRICS_TOKEN } from './jwt.js';

/** Mean appends per group commit (one fsync each) since the node started. */
export async function meanGroupCommit(url: string): Promise<number | undefined> {
  try {
    const res = await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${BENCH_METRICS_TOKEN}` } });
    if (!res.ok) return undefined;
    const text = await res.text();
    const sum = /^parley_store_batch_appends_sum(?:\{[^}]*\})?\s+([\d.e+]+)/m.exec(text)?.[1];
    const count = /^parley_store_batch_appends_count(?:\{[^}]*\})?\s+([\d.e+]+)/m.exec(text)?.[1];
    return sum && count ? Number(sum) / Number(count) : undefined;
  } catch {
    return undefined;
  }
}
