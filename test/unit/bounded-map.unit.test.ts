/** The one bounded map of the server: a ceiling, oldest-by-last-set eviction, hostile keys. */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { BoundedMap } from '../../engine/store/index.js';

describe('BoundedMap', () => {
  it('keeps at most max entries, dropping the oldest and saying which', () => {
    const evicted: Array<[string, number]> = [];
    const map = new BoundedMap<string, number>(3, (k, v) => evicted.push([k, v]));
    for (const [i, k] of ['a', 'b', 'c', 'd', 'e'].entries()) map.set(k, i);
    expect(map.size).toBe(3);
    expect([...map.keys()]).toEqual(['c', 'd', 'e']);
    expect(evicted).toEqual([
      ['a', 0],
      ['b', 1],
    ]);
    expect(map.get('a')).toBeUndefined();
    expect(map.get('e')).toBe(4);
  });

  it('makes a key newest when it is set again, not when it is read', () => {
    const map = new BoundedMap<string, number>(2);
    map.set('a', 1).set('b', 2);
    expect(map.get('a')).toBe(1);
    map.set('c', 3); // a was only read: it is still the oldest
    expect([...map.keys()]).toEqual(['b', 'c']);
    map.set('b', 20).set('d', 4); // b was set again: c goes
    expect([...map.keys()]).toEqual(['b', 'd']);
    expect(map.get('b')).toBe(20);
  });

  it('does not report deletes and clears as evictions', () => {
    const evicted: string[] = [];
    const map = new BoundedMap<string, number>(2, (k) => evicted.push(k));
    map.set('a', 1).set('b', 2);
    expect(map.delete('a')).toBe(true);
    expect(map.delete('a')).toBe(false);
    map.set('c', 3);
    map.clear();
    expect(map.size).toBe(0);
    expect(evicted).toEqual([]);
  });

  it('takes any string as a plain key, prototype names included', () => {
    const map = new BoundedMap<string, string>(10);
    for (const k of ['__proto__', 'constructor', 'toString', 'hasOwnProperty']) expect(map.has(k)).toBe(false);
    map.set('__proto__', 'x').set('constructor', 'y');
    expect(map.get('__proto__')).toBe('x');
    expect(map.get('constructor')).toBe('y');
    expect(map.get('toString')).toBeUndefined();
    expect(map.size).toBe(2);
  });

  it('evicts in last-set order over a long random run of sets, deletes and clears (a model Map checks it)', () => {
    const seed = Number(process.env.PARLEY_SEED ?? Date.now() % 2 ** 31);
    let state = seed;
    const random = (n: number) => {
      state = (state * 1103515245 + 12345) % 2 ** 31;
      return state % n;
    };
    const max = 50;
    const evicted: string[] = [];
    const map = new BoundedMap<string, number>(max, (k) => evicted.push(k));
    const model = new Map<string, number>();
    for (let i = 0; i < 20_000; i++) {
      const key = `k${random(200)}`;
      const op = random(100);
      if (op < 85) {
        map.set(key, i);
        model.delete(key);
        model.set(key, i);
        const expected: string[] = [];
        while (model.size > max) {
          const oldest = model.keys().next().value!;
          model.delete(oldest);
          expected.push(oldest);
        }
        expect(evicted.splice(0), `seed ${seed}, step ${i}`).toEqual(expected);
      } else if (op < 99) {
        expect(map.delete(key)).toBe(model.delete(key));
      } else {
        map.clear();
        model.clear();
      }
      expect(map.size, `seed ${seed}, step ${i}`).toBe(model.size);
    }
    expect([...map.keys()], `seed ${seed}`).toEqual([...model.keys()]);
  });

  it('refuses a ceiling below one', () => {
    expect(() => new BoundedMap(0)).toThrow(RangeError);
    expect(() => new BoundedMap(Number.NaN)).toThrow(RangeError);
  });
  it('holds no memory for sets made under its ceiling (a Map iterator that stands still pins every table V8 replaced)', () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const heapAfterGc = (): number => {
      gc();
      return process.memoryUsage().heapUsed;
    };
    const keys = Array.from({ length: 60 }, (_, i) => `conversation-${i}`);
    const map = new BoundedMap<string, number>(10_000);
    for (let i = 0; i < 100_000; i++) map.set(keys[i % 60]!, i);
    const before = heapAfterGc();
    // 1M sets: the standing iterator kept ~50 MiB of old tables alive (about 50 B a set).
    for (let i = 0; i < 1_000_000; i++) map.set(keys[i % 60]!, i);
    const grown = heapAfterGc() - before;
    expect(map.size).toBe(60);
    expect(grown, `heap grew ${(grown / 1048576).toFixed(1)} MiB over 1M sets on 60 keys`).toBeLessThan(10 * 1048576);
  });
});
