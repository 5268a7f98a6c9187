/**
 * The settings of a node behind a load balancer: when it says it is ready, who may
 * scrape its metrics, and how long it keeps saying "not ready" before it stops taking
 * work on SIGTERM. Kept apart from config.ts so the edge's knobs read as one block.
 */
import { ConfigError } from './errors.js';
import { int, type Env } from './env-values.js';

export interface EdgeConfig {
  /** `/ready` answers 503 while a running read model is more than this many events behind the log (PARLEY_READY_MAX_LAG). */
  readyMaxLag: number;
  /** The bearer token Prometheus scrapes `/metrics` with (PARLEY_METRICS_TOKEN); undefined: `/metrics` is off. */
  metricsToken: string | undefined;
  /** Seconds a stopping node answers `/ready` with 503 before it refuses new work, for the balancer to notice (PARLEY_DRAIN_SECONDS). */
  drainSeconds: number;
}

/** Events a read model may trail the log by and the node still be ready: far above a busy node's usual lag (hundreds). */
export const DEFAULT_READY_MAX_LAG = 10_000;
/** Above a balancer's usual check interval × failures to mark a node down (deploy/haproxy: 1 s × 2). */
export const DEFAULT_DRAIN_SECONDS = 5;
/** A scrape token shorter than this is refused: it guards the node's internals. */
const MIN_METRICS_TOKEN = 16;

export function edgeConfig(env: Env, overrides: Partial<EdgeConfig>): EdgeConfig {
  const metricsToken = 'metricsToken' in overrides ? overrides.metricsToken : env.PARLEY_METRICS_TOKEN || undefined;
  if (metricsToken !== undefined && (metricsToken.length < MIN_METRICS_TOKEN || /\s/.test(metricsToken))) {
    throw new ConfigError(`PARLEY_METRICS_TOKEN must be at least ${MIN_METRICS_TOKEN} characters without spaces`);
  }
  return {
    readyMaxLag: overrides.readyMaxLag ?? int(env, 'PARLEY_READY_MAX_LAG', DEFAULT_READY_MAX_LAG),
    metricsToken,
    drainSeconds: overrides.drainSeconds ?? seconds(env, 'PARLEY_DRAIN_SECONDS', DEFAULT_DRAIN_SECONDS),
  };
}


/** 0 is allowed (no wait: tests, or no balancer in front); at most an hour. */
function seconds(env: Env, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 0 || n > 3600) throw new ConfigError(`${name} must be 0..3600 seconds, got "${raw}"`);
  return n;
}
