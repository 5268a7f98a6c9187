import type { RateLimit } from './config/index.js';
import { BoundedMap } from '../store/index.js';

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
  /**
   * Whole seconds until `take()` can succeed, at least 1: what a refused HTTP request is
   * told in Retry-After. Rounded up, so a client that waits exactly this long is let in.
   */
  secondsUntilToken(): number {
    if (this.limit.perSecond === 0) return 1;
    const now = performance.now();
    const tokens = Math.min(this.limit.burst, this.tokens + ((now - this.last) / 1000) * this.limit.perSecond);
    return Math.max(1, Math.ceil((1 - tokens) / this.limit.perSecond));
  }
}

/**
 * Users whose buckets one node keeps. Keys are user ids from verified tokens, not free
 * text, but an identity provider can mint many: past this the oldest bucket goes. Dropping
 * one only hands its user a fresh burst, so a user with this many identities gains nothing
 * they did not have already. About 300 bytes a user (measured with 33-character ids), so
 * 15 MB for a full budget.
 */
export const MAX_TRACKED_USERS = 50_000;

/**
 * One bucket per key (user id), created on demand. A bucket's age is when it was created,
 * not last used: refreshing it on every take would cost a Map delete and insert per frame
 * on the hot path, and evicting a busy bucket costs nothing but a fresh burst.
 */
export class KeyedBuckets {
  private readonly buckets: BoundedMap<string, TokenBucket>;
  constructor(
    private readonly limit: RateLimit,
    maxKeys = MAX_TRACKED_USERS,
  ) {
    this.buckets = new BoundedMap(maxKeys);
  }
  take(key: string): boolean {
    if (this.limit.perSecond === 0) return true;
    return this.bucket(key).take();
  }
  /** Seconds until `key` may take again (≥ 1); asked after a refusal. */
  secondsUntilToken(key: string): number {
    return this.bucket(key).secondsUntilToken();
  }
  get size(): number {
    return this.buckets.size;
  }
  private bucket(key: string): TokenBucket {
    let bucket = this.buckets.get(key);
    if (!bucket) this.buckets.set(key, (bucket = new TokenBucket(this.limit)));
    return bucket;
  }
}
