import type { RateLimit } from './config/index.js';

/** A token bucket: `take()` is false once the caller has used up its rate and burst. */
export class TokenBucket {
  private tokens: number;
  private last = performance.now();
  constructor(private readonly limit: RateLimit) {
    this.tokens = limit.burst;
  }
  take(): boolean {
    if (this.limit.perSecond === 0) return true;
    const now = performance.now();
    this.tokens = Math.min(this.limit.burst, this.tokens + ((now - this.last) / 1000) * this.limit.perSecond);
    this.last = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

/** One bucket per key (user id), created on demand and forgotten when idle and full. */
export class KeyedBuckets {
  private readonly buckets = new Map<string, { bucket: TokenBucket; used: number }>();
  constructor(private readonly limit: RateLimit) {}
  take(key: string): boolean {
    if (this.limit.perSecond === 0) return true;
    let entry = this.buckets.get(key);
    if (!entry) this.buckets.set(key, (entry = { bucket: new TokenBucket(this.limit), used: 0 }));
    entry.used = Date.now();
    if (this.buckets.size > 10_000) this.sweep();
    return entry.bucket.take();
  }
  private sweep(): void {
    const idle = Date.now() - (this.limit.burst / Math.max(this.limit.perSecond, 1)) * 1000;
    for (const [k, v] of this.buckets) if (v.used < idle) this.buckets.delete(k);
  }
}
