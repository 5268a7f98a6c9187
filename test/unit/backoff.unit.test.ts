/** The server's one backoff: doubling windows with a ceiling, and the two kinds of jitter. */
import { describe, expect, it } from 'vitest';
import { backoffDelay } from '../../engine/store/index.js';

describe('backoffDelay', () => {
  it('doubles from the first pause up to the ceiling', () => {
    const b = { initialMs: 250, maxMs: 10_000 };
    expect([0, 1, 2, 3, 4, 5, 6, 7, 50].map((n) => backoffDelay(n, b))).toEqual([250, 500, 1000, 2000, 4000, 8000, 10_000, 10_000, 10_000]);
  });

  it('jitters within the window: equal in its upper half, full anywhere in it', () => {
    const b = { initialMs: 100, maxMs: 1000 };
    expect(backoffDelay(2, { ...b, jitter: 'equal' }, () => 0)).toBe(200);
    expect(backoffDelay(2, { ...b, jitter: 'equal' }, () => 0.999)).toBeCloseTo(399.8);
    expect(backoffDelay(2, { ...b, jitter: 'full' }, () => 0)).toBe(0);
    expect(backoffDelay(2, { ...b, jitter: 'full' }, () => 0.5)).toBe(200);
  });
});
