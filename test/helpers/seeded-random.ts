/**
 * A seeded random generator for randomized tests, so any failure can be replayed: the
 * seed comes from an environment variable when given (a replay), else from the clock and
 * crypto, and the test prints it. sfc32 is small, fast and good enough for choosing
 * inputs; it is not for secrets.
 */
import { randomInt } from 'node:crypto';

export interface Random {
  readonly seed: number;
  /** A float in [0, 1). */
  next(): number;
  /** An integer in [0, n). */
  int(n: number): number;
  /** An integer in [min, max]. */
  between(min: number, max: number): number;
  /** True with probability p. */
  chance(p: number): boolean;
  pick<T>(items: readonly T[]): T;
  /** Picks by weight: `[[weight, value], …]`. */
  weighted<T>(choices: ReadonlyArray<readonly [number, T]>): T;
  /** A generator that continues from this one's sequence but is independent of later draws here. */
  fork(): Random;
}

/** The seed from `envName` (decimal or 0x-hex) if set, else a fresh one. */
export function seedFrom(envName: string, env: Record<string, string | undefined> = process.env): number {
  const raw = env[envName];
  if (raw !== undefined && raw !== '') {
    const n = Number(raw);
    if (!Number.isSafeInteger(n) || n < 0 || n > 0xffffffff) throw new Error(`${envName} must be an integer in 0..2^32-1, got "${raw}"`);
    return n;
  }
  return randomInt(0, 0xffffffff);
}

export function seededRandom(seed: number): Random {
  let a = 0x9e3779b9;
  let b = 0x243f6a88;
  let c = 0xb7e15162;
  let d = seed >>> 0;
  const next = (): number => {
    a >>>= 0;
    b >>>= 0;
    c >>>= 0;
    d >>>= 0;
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return (t >>> 0) / 4294967296;
  };
  for (let i = 0; i < 16; i++) next(); // mix the seed in
  const r: Random = {
    seed,
    next,
    int: (n) => Math.floor(next() * n),
    between: (min, max) => min + Math.floor(next() * (max - min + 1)),
    chance: (p) => next() < p,
    pick: <T>(items: readonly T[]): T => {
      if (items.length === 0) throw new Error('pick from an empty list');
      return items[Math.floor(next() * items.length)]!;
    },
    weighted: <T>(choices: ReadonlyArray<readonly [number, T]>): T => {
      const total = choices.reduce((s, [w]) => s + w, 0);
      let x = next() * total;
      for (const [w, v] of choices) {
        if (x < w) return v;
        x -= w;
      }
      return choices[choices.length - 1]![1];
    },
    fork: () => seededRandom(Math.floor(next() * 0xffffffff)),
  };
  return r;
}

/**
 * mulberry32: the bare generator (floats in [0, 1)) the older randomized tests use; kept
 * so their printed seeds replay the same runs.
 */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
