/** Reading typed values from the environment, the same way for every block of settings. */
import { ConfigError } from './errors.js';

export type Env = Record<string, string | undefined>;

/** A non-negative integer, or `fallback` when unset or empty. */
export function int(env: Env, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) throw new ConfigError(`${name} must be a non-negative integer, got "${raw}"`);
  return n;
}
