/**
 * Webhook delivery settings, read from the environment like the node's own
 * (PARLEY_WEBHOOK_*). Every one has a bound: a delivery cannot hold the node beyond them.
 */
import { ConfigError } from '../config/index.js';
import { sealKeyOf } from './sealing.js';

export interface WebhookSettings {
  /** Registered endpoints at most (PARLEY_WEBHOOK_MAX_ENDPOINTS). */
  maxEndpoints: number;
  /** Attempts per event before it is dead-lettered (PARLEY_WEBHOOK_MAX_ATTEMPTS). */
  maxAttempts: number;
  /** First retry pause; doubles per attempt, with ±50% jitter (PARLEY_WEBHOOK_BACKOFF_MS). */
  backoffMs: number;
  /** The longest retry pause (PARLEY_WEBHOOK_MAX_BACKOFF_MS). */
  maxBackoffMs: number;
  /** One request, connect to last byte read (PARLEY_WEBHOOK_TIMEOUT_MS). */
  timeoutMs: number;
  /** How long a delivery lease lasts; it is renewed every third of it (PARLEY_WEBHOOK_LEASE_MS). */
  leaseMs: number;
  /** Cursors go to the log at most this often while deliveries succeed (PARLEY_WEBHOOK_COMMIT_MS). */
  commitMs: number;
  /** Deliver to loopback and private networks too (PARLEY_WEBHOOK_ALLOW_PRIVATE=true; tests, same-host receivers). */
  allowPrivate: boolean;
  /** How long an old secret keeps signing after a rotation (PARLEY_WEBHOOK_ROTATION_SECONDS). */
  rotationSeconds: number;
  /** Seals secrets before they go into the log (sealing.ts); undefined: webhooks cannot be registered. */
  sealKey: Buffer | undefined;
}

/** Bytes of a response body read (for the error message); the rest is discarded unread. */
export const MAX_RESPONSE_BYTES = 1024;

function int(env: Record<string, string | undefined>, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) throw new ConfigError(`${name} must be an integer from ${min} to ${max}, not ${JSON.stringify(raw)}`);
  return n;
}

export function webhookSettings(env: Record<string, string | undefined>, jwtSecret: string): WebhookSettings {
  return {
    maxEndpoints: int(env, 'PARLEY_WEBHOOK_MAX_ENDPOINTS', 50, 1, 1000),
    maxAttempts: int(env, 'PARLEY_WEBHOOK_MAX_ATTEMPTS', 8, 1, 100),
    backoffMs: int(env, 'PARLEY_WEBHOOK_BACKOFF_MS', 1000, 1, 3_600_000),
    maxBackoffMs: int(env, 'PARLEY_WEBHOOK_MAX_BACKOFF_MS', 300_000, 1, 86_400_000),
    timeoutMs: int(env, 'PARLEY_WEBHOOK_TIMEOUT_MS', 10_000, 10, 120_000),
    leaseMs: int(env, 'PARLEY_WEBHOOK_LEASE_MS', 30_000, 300, 3_600_000),
    commitMs: int(env, 'PARLEY_WEBHOOK_COMMIT_MS', 500, 10, 60_000),
    allowPrivate: env.PARLEY_WEBHOOK_ALLOW_PRIVATE === 'true',
    rotationSeconds: int(env, 'PARLEY_WEBHOOK_ROTATION_SECONDS', 86_400, 0, 30 * 86_400),
    sealKey: sealKeyOf(env, jwtSecret),
  };
}

/** The pause before attempt `attempts + 1`: exponential, capped, jittered so endpoints that failed together do not retry together. */
export function backoff(settings: Pick<WebhookSettings, 'backoffMs' | 'maxBackoffMs'>, attempts: number, random = Math.random): number {
  const base = Math.min(settings.maxBackoffMs, settings.backoffMs * 2 ** Math.min(attempts - 1, 30));
  return Math.round(base * (0.5 + random()));
}
