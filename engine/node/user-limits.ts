/**
 * What one user may do on this node, whatever the door: one budget for everything that
 * writes or costs a frame (HTTP writes, every /v1/ws and /v1/sync frame, every socket
 * opened), one for HTTP reads, and a bound on their subscriptions. Each socket adds its own
 * per-connection rate on top (a TokenBucket). One store for all three doors, so a user who
 * posts over HTTP and WebSocket at once gets the configured rate in total, not twice.
 */
import type { NodeConfig } from './config/index.js';
import { KeyedBuckets, TokenBucket } from './rate-limit.js';

export type UserLimitSettings = Pick<NodeConfig, 'rateLimitPerUser' | 'rateLimitReadsPerUser' | 'rateLimitPerConnection' | 'maxSubscriptionsPerUser'>;

export class UserLimits {
  private readonly userBuckets: KeyedBuckets;
  private readonly readBuckets: KeyedBuckets;
  private readonly subscriptionsByUser = new Map<string, number>();

  constructor(private readonly settings: UserLimitSettings) {
    this.userBuckets = new KeyedBuckets(settings.rateLimitPerUser);
    this.readBuckets = new KeyedBuckets(settings.rateLimitReadsPerUser);
  }

  /** Takes one from the user's rate alone (opening a connection); false means refuse. */
  takeForUser(userId: string): boolean {
    return this.userBuckets.take(userId);
  }

  /**
   * Takes one HTTP request from the user's budget, reads (GET, HEAD) from their own.
   * 0 means go ahead; otherwise the whole seconds until a token is back (≥ 1, Retry-After).
   */
  takeRequest(userId: string, read: boolean): number {
    const buckets = read ? this.readBuckets : this.userBuckets;
    return buckets.take(userId) ? 0 : buckets.secondsUntilToken(userId);
  }

  /** Applies the connection's and the user's rate limits; false means refuse. */
  allow(userId: string, connection: TokenBucket): boolean {
    return connection.take() && this.userBuckets.take(userId);
  }

  /** A limiter for one more connection of `userId` (sync sockets use it too). */
  connectionLimiter(userId: string): { take(): boolean } {
    const bucket = new TokenBucket(this.settings.rateLimitPerConnection);
    return { take: () => this.allow(userId, bucket) };
  }

  /**
   * Counts a user's subscriptions over all their sockets on this node; `+1` is refused
   * (false) past PARLEY_MAX_SUBSCRIPTIONS_PER_USER.
   */
  subscriptionsChanged(userId: string, delta: 1 | -1): boolean {
    const n = (this.subscriptionsByUser.get(userId) ?? 0) + delta;
    if (delta > 0 && n > this.settings.maxSubscriptionsPerUser) return false;
    if (n <= 0) this.subscriptionsByUser.delete(userId);
    else this.subscriptionsByUser.set(userId, n);
    return true;
  }
}
