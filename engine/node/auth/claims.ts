/**
 * What the node takes from a token whose signature, algorithm, issuer, audience and
 * `nbf` jose has checked: the user id and whether the user is an admin, checked as
 * strictly as a request body. The user id becomes the actor of events, part of
 * idempotency keys and of read-model keys, so it is a non-empty, bounded, well-formed
 * string without control characters, whichever claim holds it.
 *
 * `exp` is required and gets no slack (a token is never honoured past the moment its
 * issuer said it ends); `iat` in the future beyond the clock tolerance is refused.
 */
import { isWellFormed } from '../../../protocol/index.js';
import type { AuthSettings } from '../config/index.js';
import type { Role } from './sign.js';

/** The caller a verified token names. */
export interface TokenClaims {
  /** The user id (from the configured user claim, `sub` by default). */
  sub: string;
  exp: number;
  role: Role;
}

export const MAX_SUB_LENGTH = 200;
/** Values an admin claim may list: a role list, not a payload. */
const MAX_ROLE_VALUES = 64;
// C0 and C1 controls and DEL; a user id never needs them and logs and keys must not carry them.
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

/** The caller, or null when a claim the node acts on is missing or malformed. */
export function claimsOf(payload: Record<string, unknown>, now: number, settings: AuthSettings): TokenClaims | null {
  const sub = Object.hasOwn(payload, settings.userClaim) ? payload[settings.userClaim] : undefined;
  if (!isUserId(sub)) return null;
  const { exp, iat } = payload;
  if (!isTime(exp) || exp <= now) return null;
  if (iat !== undefined && (!isTime(iat) || iat > now + settings.clockToleranceSeconds)) return null;
  const role = roleOf(Object.hasOwn(payload, settings.adminClaim) ? payload[settings.adminClaim] : undefined, settings.adminValue);
  if (role === null) return null;
  return { sub, exp, role };
}

/** A user id the node accepts: non-empty, bounded, well-formed, no control characters (it becomes the actor of events and part of keys). */
export function isUserId(v: unknown): v is string {
  return typeof v === 'string' && v.length > 0 && v.length <= MAX_SUB_LENGTH && isWellFormed(v) && !CONTROL.test(v);
}

/** Admin when the claim is the admin value or a list holding it; a claim of another shape refuses the token. */
function roleOf(claim: unknown, adminValue: string): Role | null {
  if (claim === undefined) return 'user';
  if (typeof claim === 'string') return claim === adminValue ? 'admin' : 'user';
  if (Array.isArray(claim) && claim.length <= MAX_ROLE_VALUES && claim.every((c) => typeof c === 'string')) {
    return claim.includes(adminValue) ? 'admin' : 'user';
  }
  return null;
}

/** A NumericDate: seconds since the epoch, a finite number. */
function isTime(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}
