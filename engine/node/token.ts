/**
 * Bearer tokens: JWTs signed with HS256. Only HS256 is accepted (no `alg: none`, no
 * algorithm switching), signatures are compared in constant time, and `exp` is enforced.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export interface TokenClaims {
  sub: string;
  iat: number;
  exp?: number;
  role?: 'admin' | 'user';
}

const HEADER = base64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));

export function signToken(secret: string, claims: { sub: string; ttlSeconds?: number; role?: 'admin' | 'user' }): string {
  const iat = Math.floor(Date.now() / 1000);
  const payload: TokenClaims = { sub: claims.sub, iat };
  if (claims.ttlSeconds) payload.exp = iat + claims.ttlSeconds;
  if (claims.role) payload.role = claims.role;
  const body = `${HEADER}.${base64url(JSON.stringify(payload))}`;
  return `${body}.${sign(secret, body)}`;
}

/** The token's claims, or null when it is malformed, forged, expired or not HS256. */
export function verifyToken(secret: string, token: string): TokenClaims | null {
  const parts = token.split('.');
  if (parts.length !== 3) return null;
  const [h, p, s] = parts as [string, string, string];
  const expected = Buffer.from(sign(secret, `${h}.${p}`));
  const given = Buffer.from(s);
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) return null;
  try {
    const header = JSON.parse(Buffer.from(h, 'base64url').toString('utf8'));
    if (header.alg !== 'HS256') return null;
    const claims = JSON.parse(Buffer.from(p, 'base64url').toString('utf8')) as TokenClaims;
    if (typeof claims.sub !== 'string' || claims.sub.length === 0 || claims.sub.length > 200) return null;
    if (claims.exp !== undefined && (typeof claims.exp !== 'number' || claims.exp * 1000 <= Date.now())) return null;
    return claims;
  } catch {
    return null;
  }
}

function sign(secret: string, data: string): string {
  return createHmac('sha256', secret).update(data).digest('base64url');
}

function base64url(s: string): string {
  return Buffer.from(s, 'utf8').toString('base64url');
}
