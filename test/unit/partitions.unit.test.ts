/** The partition mapping, the log cursor and the partition merge, without I/O. */
import { describe, expect, it } from 'vitest';
import { fnv1a32, partitionOf, MAX_PARTITIONS, InvalidPartitionCountError, assertPartitionCount } from '../../engine/store/partitions.js';
import { InvalidCursorError, LogCursor, localPositionOf, partitionedPosition } from '../../engine/store/log-cursor.js';
import { mergeByKey, mergeKeyOrdered } from '../../engine/store/jetstream/partition-merge.js';
import { seededRandom, seedFrom } from '../helpers/seeded-random.js';

describe('partition mapping', () => {
  it('is FNV-1a 32 (the published test vectors, as Go hash/fnv and nats-server partition() compute it)', () => {
    expect(fnv1a32('')).toBe(0x811c9dc5);
    expect(fnv1a32('a')).toBe(0xe40c292c);
    expect(fnv1a32('foobar')).toBe(0xbf9cf968);
    // UTF-8 bytes, not UTF-16 code units: 'é' is 0xC3 0xA9.
    expect(fnv1a32('é')).toBe(Math.imul(Math.imul(0x811c9dc5 ^ 0xc3, 0x01000193) >>> 0 ^ 0xa9, 0x01000193) >>> 0);
  });

  it('maps a conversation by its id mod N and every other stream to partition 0', () => {
    expect(partitionOf('conversation-foobar', 7)).toBe(0xbf9cf968 % 7);
    expect(partitionOf('conversation-a', 3)).toBe(0xe40c292c % 3);
    expect(partitionOf('user-foobar', 7)).toBe(0);
    expect(partitionOf('node-n1', 7)).toBe(0);
    for (const id of ['x', 'y', 'ü']) expect(partitionOf(`conversation-${id}`, 1)).toBe(0);
  });

  it('spreads many conversation ids roughly evenly', () => {
    const counts = [0, 0, 0];
    for (let i = 0; i < 3000; i++) counts[partitionOf(`conversation-${i}-${i * 7919}`, 3)]!++;
    for (const c of counts) expect(c).toBeGreaterThan(800);
  });

  it('refuses a partition count outside 1..64', () => {
    for (const n of [0, -1, 1.5, MAX_PARTITIONS + 1, Number.NaN]) expect(() => assertPartitionCount(n)).toThrow(InvalidPartitionCountError);
    expect(assertPartitionCount(MAX_PARTITIONS)).toBe(MAX_PARTITIONS);
  });
});

describe('log cursor', () => {
  it('is a plain number for one partition, so stored numeric positions stay valid', () => {
    const c = LogCursor.decode(5120, 1);
    expect(c.encode()).toBe('5120');
    expect(LogCursor.decode('5120', 1).single).toBe(5120);
    expect(c.covers(5120)).toBe(true);
    expect(c.covers(5121)).toBe(false);
    expect(c.advancedBy([{ position: 6144 }]).encode()).toBe('6144');
  });

  it('keeps one entry per partition and round-trips as an opaque token', () => {
    const n = 3;
    const at = (local: number, p: number) => partitionedPosition(local, p, n);
    const c = LogCursor.start(n).advancedBy([{ position: at(2048, 1) }, { position: at(1024, 2) }, { position: at(1025, 2) }]);
    expect(c.after(0)).toBe(0);
    expect(localPositionOf(c.after(1), n)).toBe(2048);
    expect(c.covers(at(2048, 1))).toBe(true);
    expect(c.covers(at(2049, 1))).toBe(false);
    expect(c.covers(at(1, 0))).toBe(false);
    const token = c.encode();
    expect(token).toMatch(/^c1\.[A-Za-z0-9_-]+$/);
    expect(LogCursor.decode(token, n).encode()).toBe(token);
    expect(LogCursor.decode(token, n).reaches(c)).toBe(true);
    expect(LogCursor.start(n).reaches(c)).toBe(false);
    // Never moves back.
    expect(c.advancedBy([{ position: at(5, 1) }]).after(1)).toBe(at(2048, 1));
  });

  it('takes 0 as the start of any log', () => {
    expect(LogCursor.decode(0, 4).encode()).toBe(LogCursor.start(4).encode());
    expect(LogCursor.decode('0', 4).covers(4)).toBe(false);
  });

  it('refuses hostile or foreign tokens with a coded error', () => {
    const three = LogCursor.start(3).advancedBy([{ position: 3 * 10 + 1 }]).encode();
    const bad: Array<[string | number, number]> = [
      [5120, 3], // a plain position for a partitioned log
      [three, 4], // a token of another partition count
      [three, 1],
      [-1, 1],
      [1.5, 1],
      ['c1.' + 'A'.repeat(5000), 3],
      ['c1.!!', 3],
      ['c1.' + Buffer.from('{"__proto__":1}').toString('base64url'), 3],
      ['c1.' + Buffer.from('[1,1,2]').toString('base64url'), 3], // 1 is not a position of partition 0
      ['c1.' + Buffer.from('[0,"4",0]').toString('base64url'), 3],
      ['c1.' + Buffer.from('[0,1e300,0]').toString('base64url'), 3],
      ['99999999999999999', 1],
      ['constructor', 1],
      ['', 1],
    ];
    for (const [token, n] of bad) {
      expect(() => LogCursor.decode(token, n), `${token} for ${n}`).toThrow(InvalidCursorError);
      try {
        LogCursor.decode(token, n);
      } catch (err) {
        expect((err as InvalidCursorError).code).toBe('invalid_cursor');
      }
    }
  });
});

describe('partition merge', () => {
  it("keeps each partition's order and cuts only suffixes at the limit (seeded)", () => {
    const seed = seedFrom('SEED');
    console.info(`partition merge seed ${seed}`);
    const rng = seededRandom(seed);
    const random = () => rng.next();
    for (let round = 0; round < 200; round++) {
      const inputs = Array.from({ length: 1 + Math.floor(random() * 4) }, (_, p) =>
        Array.from({ length: Math.floor(random() * 6) }, (_, i) => ({ p, i, at: Math.floor(random() * 10) })),
      );
      const limit = Math.floor(random() * 12);
      const out = mergeByKey(inputs, (e) => e.at, limit);
      expect(out.length).toBe(Math.min(limit, inputs.flat().length));
      inputs.forEach((input, p) => {
        const mine = out.filter((e) => e.p === p);
        expect(mine).toEqual(input.slice(0, mine.length));
      });
    }
  });

  it('merges idempotency records in UTF-8 byte order, each key once', async () => {
    async function* of(...keys: string[]) {
      for (const key of keys) yield { key, fingerprint: 'f', result: null };
    }
    const merged: string[] = [];
    for await (const r of mergeKeyOrdered([of('a', 'z', '\u00e9'), of('b', 'z'), of()])) merged.push(r.key);
    expect(merged).toEqual(['a', 'b', 'z', '\u00e9']);
  });
});

describe('a cursor token read without knowing its log (parley tail)', () => {
  it('infers the partition count from the token, and a plain number is one partition', () => {
    expect(LogCursor.parse('5120').partitions).toBe(1);
    const token = LogCursor.start(3).advancedBy([{ position: 3 * 7 + 2 }]).encode();
    expect(LogCursor.parse(token).partitions).toBe(3);
    expect(LogCursor.parse(token).covers(3 * 7 + 2)).toBe(true);
    for (const bad of ['c1.', 'c1.' + Buffer.from('[]').toString('base64url'), 'c1.' + Buffer.from(JSON.stringify(new Array(65).fill(0))).toString('base64url'), 'x', '-1']) {
      expect(() => LogCursor.parse(bad), bad).toThrow(InvalidCursorError);
    }
  });
});
