/**
 * Tokens verified moments ago, so a client that sends the same token with every request
 * pays for its signature once: jose's verification costs about ten times the event-loop
 * time of the hand-written HMAC it replaced (bench/token-verify.ts). Only successes are
 * kept, and only for a short while: an entry is used until the token's `exp` and for at
 * most `maxAgeMs`, so a key withdrawn from a JWKS stops working within about the key
 * set's own cache age, as without this. Bounded in entries and in the length of the
 * tokens kept, since clients choose the keys.
 *
 * An entry is keyed by the token's SHA-256, not the token: each socket's token (200–1,000
 * characters) would otherwise stay in memory as long as its entry, about a sixth of what
 * an idle socket costs the node on top of ws, for ~1 µs of hashing per lookup.
 */
import { createHash } from 'node:crypto';
import { BoundedMap } from '../../store/index.js';
import type { TokenClaims } from './claims.js';

/** Longer tokens are verified every time rather than held. */
const MAX_HELD_TOKEN_LENGTH = 2048;

interface Entry {
  readonly claims: TokenClaims;
  /** When it was verified and until when it may be used, in ms. */
  readonly from: number;
  readonly until: number;
}

export class VerifiedTokens {
  private readonly entries: BoundedMap<string, Entry>;

  constructor(
    max: number,
    private readonly maxAgeMs: number,
  ) {
    this.entries = new BoundedMap(max);
  }

  /** The claims of `token` if it was verified lately and has not expired since. */
  get(token: string, nowMs: number): TokenClaims | undefined {
    if (token.length > MAX_HELD_TOKEN_LENGTH) return undefined;
    const key = keyOf(token);
    const e = this.entries.get(key);
    if (!e) return undefined;
    if (nowMs < e.from || nowMs >= e.until || e.claims.exp * 1000 <= nowMs) {
      this.entries.delete(key);
      return undefined;
    }
    return e.claims;
  }

  set(token: string, claims: TokenClaims, nowMs: number): void {
    if (token.length > MAX_HELD_TOKEN_LENGTH) return;
    this.entries.set(keyOf(token), { claims, from: nowMs, until: nowMs + this.maxAgeMs });
  }
}

/** Collision-resistant, so a key names one token only; 44 characters whatever the token's length. */
function keyOf(token: string): string {
  return createHash('sha256').update(token).digest('base64');
}
