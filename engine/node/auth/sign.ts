/**
 * Minting HS256 tokens with the node's own secret: `parley token`, tests and the bench.
 * Minting stays synchronous and small (an HMAC over two JSON objects); verification,
 * where a mistake lets someone in, is jose's (verifier.ts).
 */
import { createHmac } from 'node:crypto';

export type Role = 'admin' | 'user';

/** Lifetime of a token minted without an explicit one. */
export const DEFAULT_TTL_SECONDS = 3600;

const HEADER = base64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));

/** Mints a token for `sub` that expires after `ttlSeconds` (default DEFAULT_TTL_SECONDS). */
export function signToken(secret: string, claims: { sub: string; ttlSeconds?: number; role?: Role }): string {
  const iat = Math.floor(Date.now() / 1000);
  const payload: Record<string, unknown> = { sub: claims.sub, iat, exp: iat + (claims.ttlSeconds ?? DEFAULT_TTL_SECONDS) };
  if (claims.role) payload.role = claims.role;
  return signClaims(secret, payload);
}

/** Signs exactly these claims, unchecked: for tests that need malformed or odd tokens. */
export function signClaims(secret: string, claims: object): string {
  const body = `${HEADER}.${base64url(JSON.stringify(claims))}`;
  return `${body}.${createHmac('sha256', secret).update(body).digest('base64url')}`;
}

function base64url(s: string): string {
  return Buffer.from(s, 'utf8').toString('base64url');
}
