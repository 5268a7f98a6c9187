/**
 * HS256 tokens for the benchmark: the load generators sign them and the peer servers
 * verify them, in the same format Parley's gateway accepts, so every system pays for a
 * real signature check per connection.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export const BENCH_SECRET = 'bench-secret-of-at-least-32-characters!!';
/** The scrape token bench nodes take on `/metrics` (PARLEY_METRICS_TOKEN). */
export const BENCH_METRICS_TOKEN = 'bench-metrics-scrape-token';

const HEADER = Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'JWT' })).toString('base64url');

export function signBenchToken(sub: string, secret = BENCH_SECRET): string {
  // Parley refuses tokens without `exp`; a day outlasts any benchmark run.
  const iat = Math.floor(Date.now() / 1000);
  const body = `${HEADER}.${Buffer.from(JSON.stringify({ sub, iat, exp: iat + 86_400 })).toString('base64url')}`;
  return `${body}.${createHmac('sha256', secret).update(body).digest('base64url')}`;
}

/** The token's subject, or null when the signature does not match. */
export function verifyBenchToken(token: string, secret = BENCH_SECRET): string | null {
  const parts = token.split('.');
  if (parts.length !== 3) return null;
  const expected = Buffer.from(createHmac('sha256', secret).update(`${parts[0]}.${parts[1]}`).digest('base64url'));
  const given = Buffer.from(parts[2]!);
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) return null;
  try {
    const claims = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8')) as { sub?: unknown };
    return typeof claims.sub === 'string' ? claims.sub : null;
  } catch {
    return null;
  }
}
