/**
 * Latency histogram with ~1% relative buckets from 1 µs to ~100 s, mergeable across
 * load processes by adding counts (so percentiles stay exact to a bucket).
 */
const GROWTH = 1.01;
const LOG_GROWTH = Math.log(GROWTH);
const BUCKETS = Math.ceil(Math.log(1e8) / LOG_GROWTH) + 1; // µs up to 1e8 (100 s)

export class Histogram {
  readonly counts: number[];
  total = 0;

  constructor(counts?: number[]) {
    this.counts = counts ?? new Array(BUCKETS).fill(0);
    if (counts) this.total = counts.reduce((a, b) => a + b, 0);
  }

  /** Records one value in milliseconds. */
  record(ms: number): void {
    const us = Math.max(1, ms * 1000);
    const i = Math.min(BUCKETS - 1, Math.floor(Math.log(us) / LOG_GROWTH));
    this.counts[i]! += 1;
    this.total += 1;
  }

  merge(other: Histogram): void {
    for (let i = 0; i < BUCKETS; i++) this.counts[i]! += other.counts[i]!;
    this.total += other.total;
  }

  /** The value (ms) at quantile q in [0, 1]: the upper edge of the bucket that holds it. */
  quantile(q: number): number {
    if (this.total === 0) return NaN;
    const rank = Math.ceil(q * this.total);
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.counts[i]!;
      if (seen >= rank) return GROWTH ** (i + 1) / 1000;
    }
    return NaN;
  }
}

/** The wall clock in ms with sub-ms precision; comparable across processes on one machine. */
export const wallNow = (): number => performance.timeOrigin + performance.now();
