/**
 * The per-user budget store: one bucket per user shared by every door, reads apart,
 * Retry-After rounded up, the map of users bounded, and the read budget's defaults.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../engine/node/index.js';
import { KeyedBuckets } from '../../engine/node/rate-limit.js';
import { UserLimits } from '../../engine/node/user-limits.js';
import { tempDir } from '../helpers/temp-dir.js';

/** One token per 1000 s: none comes back while a test runs. */
const SLOW = { perSecond: 0.001, burst: 3 };

function limits(overrides: Partial<ConstructorParameters<typeof UserLimits>[0]> = {}): UserLimits {
  return new UserLimits({
    rateLimitPerUser: SLOW,
    rateLimitReadsPerUser: SLOW,
    rateLimitPerConnection: { perSecond: 0, burst: 0 },
    maxSubscriptionsPerUser: 10,
    ...overrides,
  });
}

describe('UserLimits', () => {
  it('takes HTTP writes, socket opens and socket frames from one bucket per user', () => {
    const users = limits();
    expect(users.takeRequest('ann', false)).toBe(0);
    expect(users.takeForUser('ann')).toBe(true);
    expect(users.connectionLimiter('ann').take()).toBe(true);
    expect(users.connectionLimiter('ann').take()).toBe(false);
    expect(users.takeRequest('ann', false)).toBeGreaterThanOrEqual(1);
    // Another user, and the same user's reads, are budgets of their own.
    expect(users.takeRequest('ben', false)).toBe(0);
    expect(users.takeRequest('ann', true)).toBe(0);
  });

  it('tells a refused request the whole seconds until its next token', () => {
    const users = limits({ rateLimitReadsPerUser: { perSecond: 0.001, burst: 1 } });
    expect(users.takeRequest('ann', true)).toBe(0);
    // (1 - a sliver) / 0.001 rounds up to 1000; 999 only if a whole second passed in between.
    expect([999, 1000]).toContain(users.takeRequest('ann', true));
  });

  it('keys users by id in a Map: "__proto__" and "constructor" are users like any other', () => {
    const users = limits({ rateLimitPerUser: { perSecond: 0.001, burst: 1 } });
    for (const id of ['__proto__', 'constructor', 'toString']) {
      expect(users.takeRequest(id, false)).toBe(0);
      expect(users.takeRequest(id, false)).toBeGreaterThanOrEqual(1);
    }
  });
});

describe('KeyedBuckets', () => {
  it('keeps at most its bound of users, forgetting the oldest', () => {
    const buckets = new KeyedBuckets({ perSecond: 0.001, burst: 1 }, 3);
    for (const id of ['a', 'b', 'c', 'd']) expect(buckets.take(id)).toBe(true);
    expect(buckets.size).toBe(3);
    // 'a' was forgotten (a fresh burst); 'd' was not.
    expect(buckets.take('d')).toBe(false);
    expect(buckets.take('a')).toBe(true);
    expect(buckets.size).toBe(3);
  });
});

describe('read budget configuration', () => {
  const dir = tempDir();
  afterAll(() => dir.remove());
  const env = (extra: Record<string, string>) => ({ DATA_DIR: dir.path, PARLEY_JWT_SECRET: 'a-secret-of-sixteen-plus', ...extra });

  it('defaults to 200 reads a second, bursts of 400, and takes "rate:burst"', () => {
    expect(loadConfig(env({})).rateLimitReadsPerUser).toEqual({ perSecond: 200, burst: 400 });
    expect(loadConfig(env({ PARLEY_RATE_READS_PER_USER: '20:60' })).rateLimitReadsPerUser).toEqual({ perSecond: 20, burst: 60 });
  });

  it('is off with the per-user rate unless set on its own', () => {
    expect(loadConfig(env({ PARLEY_RATE_PER_USER: '0' })).rateLimitReadsPerUser.perSecond).toBe(0);
    expect(loadConfig(env({ PARLEY_RATE_PER_USER: '0', PARLEY_RATE_READS_PER_USER: '5' })).rateLimitReadsPerUser).toEqual({ perSecond: 5, burst: 10 });
  });

  it('refuses a burst below 1 with a rate above 0: that bucket would refuse every request', () => {
    for (const name of ['PARLEY_RATE_PER_USER', 'PARLEY_RATE_READS_PER_USER', 'PARLEY_RATE_PER_CONNECTION']) {
      expect(() => loadConfig(env({ [name]: '5:0' }))).toThrow(new RegExp(`${name}: a burst below 1`));
      expect(() => loadConfig(env({ [name]: '5:0.5' }))).toThrow(/would refuse every request/);
    }
    expect(loadConfig(env({ PARLEY_RATE_PER_USER: '0:0' })).rateLimitPerUser).toEqual({ perSecond: 0, burst: 0 });
  });
});
