/**
 * HS256 tokens for the benchmark: the load generators sign them with Parley's own minting
 * (token.ts) and the peer servers verify them here, in the same format Parley's gateway
 * accepts, so every system pays for a real signature check per connection.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export const BENCH_SECRET = 'bench-secret-of-at-least-32-characters!!';
/** The scrape token bench nodes take on `/metrics` (PARLEY_METRICS_TOKEN). */
export const BENCH_METRICS_TOKEN = 'bench-metrics-scrape-token';

/**
 * The token's subject, or null when the signature does not match: the peers' check, kept
 * to one HMAC (their own servers would use whatever their stack offers; Parley's is jose).
 */
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
