import { describe, expect, it } from 'vitest';
import { timeOrderedId } from '../../engine/domain/index.js';

const V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('timeOrderedId', () => {
  it('is a version-7 UUID whose first 48 bits are the time', () => {
    const now = 1795878787469;
    const id = timeOrderedId(now);
    expect(id).toMatch(V7);
    expect(parseInt(id.slice(0, 8) + id.slice(9, 13), 16)).toBe(now);
  });

  it('sorts by time across milliseconds, so an index takes new ids at its right edge', () => {
    const ids = Array.from({ length: 200 }, (_, i) => timeOrderedId(1795878787469 + i));
    expect([...ids].sort()).toEqual(ids);
  });

  it('keeps ids of the same millisecond apart', () => {
    const ids = new Set(Array.from({ length: 10_000 }, () => timeOrderedId(1795878787469)));
    expect(ids.size).toBe(10_000);
    for (const id of ids) expect(id).toMatch(V7);
  });

  it('takes the time of each call, also when calls alternate between milliseconds', () => {
    const times = [1795878787469, 1795878787470, 1795878787469, 0, 1795878787470];
    for (const t of times) expect(parseInt(timeOrderedId(t).replace(/-/g, '').slice(0, 12), 16)).toBe(t);
  });
});
