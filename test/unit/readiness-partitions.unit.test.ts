/**
 * Readers' rule (projections/readiness.ts) with checkpoints over partitions: a position is
 * applied when its partition's entry reaches it; a stopped access-guarding read model with
 * any revocation not applied closes readers of a partitioned log (positions of different
 * partitions have no order, so "at or before P" cannot be told), and only those at or
 * before P on an unpartitioned one. Plus the cursor's lowest and lag.
 */
import { describe, expect, it } from 'vitest';
import { LogCursor } from '../../engine/store/index.js';
import { closedBefore, readyFor, type Readiness } from '../../projections/readiness.js';

const model = (checkpoint: number[], over: Partial<Readiness> = {}): Readiness => ({
  name: 'm',
  checkpoint,
  failed: false,
  failedAt: 0,
  guardsAccess: false,
  revokedAt: null,
  ...over,
});

describe('readiness over partitions', () => {
  it('waits for the entry of the position\'s partition only', () => {
    const models = [model([30, 31, 2])];
    expect(readyFor(models, 30)).toBe(true);
    expect(readyFor(models, 31)).toBe(true);
    expect(readyFor(models, 5)).toBe(false); // partition 2 is at 2
    expect(readyFor(models, 33)).toBe(false);
    expect(readyFor([model([30, 31, 2], { failed: true })], 99)).toBe(true); // a stopped one is not waited for
  });

  it('closes readers when a guarding read model stopped with any revocation not applied (partitioned), only up to it (one partition)', () => {
    const guard = { failed: true, guardsAccess: true, revokedAt: 40 };
    expect(closedBefore([model([3, 1, 2], guard)], 4)).toMatchObject({ code: 'unavailable' });
    expect(closedBefore([model([3, 1, 2], guard)], 3)).toBeNull(); // applied there
    expect(closedBefore([model([3], guard)], 4)).toBeNull(); // before the revocation, in one order
    expect(closedBefore([model([3], guard)], 40)).toMatchObject({ code: 'unavailable' });
    expect(closedBefore([model([3, 1, 2], { ...guard, revokedAt: null })], 4)).toBeNull();
    expect(closedBefore([model([3, 1, 2], { ...guard, revokedAt: undefined })], 4)).toMatchObject({ code: 'unavailable' });
  });

  it('gives the per-partition lowest of cursors, and how far a cursor is behind a head', () => {
    const a = LogCursor.start(3).advancedBy([{ position: 30 }, { position: 4 }, { position: 8 }]);
    const b = LogCursor.start(3).advancedBy([{ position: 6 }, { position: 31 }, { position: 5 }]);
    expect(LogCursor.lowest([a, b], 3).entries).toEqual([6, 4, 5]);
    expect(LogCursor.lowest([], 3).entries).toEqual([0, 0, 0]);
    expect(() => LogCursor.lowest([LogCursor.at(5)], 3)).toThrow(/partitions/);
    expect(b.behind(a)).toBe(24 + 0 + 3);
    expect(LogCursor.at(5).behind(LogCursor.at(12))).toBe(7);
    expect(LogCursor.at(12).behind(LogCursor.at(5))).toBe(0);
    expect(LogCursor.start(3).next).toBe(3);
    expect(LogCursor.at(7).next).toBe(8);
  });
});
