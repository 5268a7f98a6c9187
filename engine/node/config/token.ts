/**
 * Bearer tokens: JWTs signed with HS256. Only HS256 is accepted (no `alg: none`, no
 * algorithm switching) and signatures are compared in constant time.
 *
 * A token is a standing credential, so every one must end: `exp` is required (a token
 * without it is refused, not treated as eternal), `nbf` is honoured, and a token whose
 * `iat` lies in the future is refused. Issuers' clocks drift, so `nbf` and `iat` get
 * CLOCK_TOLERANCE_SECONDS of slack; `exp` gets none, so a token is never honoured past
 * the moment its issuer said it ends. The claims the node acts on are checked as
 * strictly as a request body: `sub` is a non-empty, bounded, well-formed string without
 * control characters (it becomes the actor of events, part of idempotency keys and of
 * read-model keys), and `role` is one of the known roles.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { isWellFormed } from '../../../protocol/index.js';

export type Role = 'admin' | 'user';

export interface TokenClaims {
  sub: string;
  iat?: number;
  nbf?: number;
  exp: number;
  role?: Role;
}

/** Slack for issuers whose clocks run ahead of the node's, applied to `nbf` and `iat`. */
export const CLOCK_TOLERANCE_SECONDS = 30;
/** Lifetime of a token minted without an explicit one. */
export const DEFAULT_TTL_SECONDS = 3600;
export const MAX_SUB_LENGTH = 200;

const ROLES: ReadonlySet<string> = new Set<Role>(['admin', 'user']);
const HEADER = base64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
// C0 and C1 controls and DEL; a user id never needs them and logs and keys must not carry them.
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

/** Mints a token for `sub` that expires after `ttlSeconds` (default DEFAULT_TTL_SECONDS). */
export function signToken(secret: string, claims: { sub: string; ttlSeconds?: number; role?: Role }): string {
  const iat = Math.floor(Date.now() / 1000);
  const payload: TokenClaims = { sub: claims.sub, iat, exp: iat + (claims.ttlSeconds ?? DEFAULT_TTL_SECONDS) };
  if (claims.role) payload.role = claims.role;
  return signClaims(secret, payload);
}

/** Signs exactly these claims, unchecked: for tests that need malformed or odd tokens. */
export function signClaims(secret: string, claims: object): string {
  const body = `${HEADER}.${base64url(JSON.stringify(claims))}`;
  return `${body}.${sign(secret, body)}`;
}

/**
 * The token's claims, or null when it is malformed, forged, not HS256, expired, not yet
 * valid, issued in the future, has no `exp`, or carries a bad `sub` or an unknown `role`.
 */
export function verifyToken(secret: string, token: string, nowMs = Date.now()): TokenClaims | null {
  const parts = token.split('.');
  if (parts.length !== 3) return null;
  const [h, p, s] = parts as [string, string, string];
  const expected = Buffer.from(sign(secret, `${h}.${p}`));
  const given = Buffer.from(s);
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) return null;
  let header: unknown;
  let claims: unknown;
  try {
    header = JSON.parse(Buffer.from(h, 'base64url').toString('utf8'));
    claims = JSON.parse(Buffer.from(p, 'base64url').toString('utf8'));
  } catch {
    return null;
  }
  if (!isObject(header) || header.alg !== 'HS256') return null;
  return checkClaims(claims, nowMs / 1000);
}

function checkClaims(claims: unknown, now: number): TokenClaims | null {
  if (!isObject(claims)) return null;
  const { sub, exp, nbf, iat, role } = claims;
  if (typeof sub !== 'string' || sub.length === 0 || sub.length > MAX_SUB_LENGTH) return null;
  if (!isWellFormed(sub) || CONTROL.test(sub)) return null;
  if (!isTime(exp) || exp <= now) return null;
  if (nbf !== undefined && (!isTime(nbf) || nbf > now + CLOCK_TOLERANCE_SECONDS)) return null;
  if (iat !== undefined && (!isTime(iat) || iat > now + CLOCK_TOLERANCE_SECONDS)) return null;
  if (role !== undefined && (typeof role !== 'string' || !ROLES.has(role))) return null;
  const checked: TokenClaims = { sub, exp };
  if (iat !== undefined) checked.iat = iat as number;
  if (nbf !== undefined) checked.nbf = nbf as number;
  if (role !== undefined) checked.role = role as Role;
  return checked;
}

/** A NumericDate: seconds since the epoch, a finite number. */
function isTime(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function sign(secret: string, data: string): string {
  return createHmac('sha256', secret).update(data).digest('base64url');
}

function base64url(s: string): string {
  return Buffer.from(s, 'utf8').toString('base64url');
}
