/**
 * What one user may do on this node across all their connections: a shared message
 * rate (every socket they open, WebSocket or sync, takes from it too) and a bound on
 * their subscriptions. Each connection adds its own rate on top (a TokenBucket).
 */
import type { NodeConfig } from './config/index.js';
import { KeyedBuckets, TokenBucket } from './rate-limit.js';

export type UserLimitSettings = Pick<NodeConfig, 'rateLimitPerUser' | 'rateLimitPerConnection' | 'maxSubscriptionsPerUser'>;

export class UserLimits {
  private readonly userBuckets: KeyedBuckets;
  private readonly subscriptionsByUser = new Map<string, number>();

  constructor(private readonly settings: UserLimitSettings) {
    this.userBuckets = new KeyedBuckets(settings.rateLimitPerUser);
  }

  /** Takes one from the user's rate alone (opening a connection); false means refuse. */
  takeForUser(userId: string): boolean {
    return this.userBuckets.take(userId);
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
