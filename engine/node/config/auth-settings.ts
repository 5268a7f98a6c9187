/**
 * How the node verifies bearer tokens (PARLEY_JWT_* and PARLEY_JWKS_*), read and checked
 * once at start-up so a bad setting stops the node with a message instead of refusing
 * every user later. The keys come from exactly one place: the node's HS256 secret (the
 * default, what `parley token` mints with), a PEM public key file, or the identity
 * provider's JWKS URL. An asymmetric source never accepts HS* (a public key used as an
 * HMAC secret is the classic algorithm-confusion forgery) and `none` is never accepted.
 */
import { createPublicKey } from 'node:crypto';
import { readFileSync } from 'node:fs';

export type KeySource = { kind: 'secret' } | { kind: 'pem'; file: string; pem: string } | { kind: 'jwks'; url: string };

export interface AuthSettings {
  /** Where verification keys come from (PARLEY_JWT_PUBLIC_KEY_FILE, PARLEY_JWKS_URL, else PARLEY_JWT_SECRET). */
  keySource: KeySource;
  /** Accepted `alg` values (PARLEY_JWT_ALGORITHMS). */
  algorithms: string[];
  /** Accepted `iss` values; empty accepts any (PARLEY_JWT_ISSUER, comma-separated). */
  issuers: string[];
  /** Accepted `aud` values; empty accepts any (PARLEY_JWT_AUDIENCE, comma-separated). */
  audiences: string[];
  /** Slack for clocks that disagree, applied to `nbf` and `iat` (never to `exp`). */
  clockToleranceSeconds: number;
  /** The claim holding the user id (PARLEY_JWT_USER_CLAIM, default `sub`). */
  userClaim: string;
  /** A token is an admin's when this claim is, or is a list containing, adminValue. */
  adminClaim: string;
  adminValue: string;
  /** JWKS: a kid the cached set lacks refetches it at most once per this many seconds. */
  jwksCooldownSeconds: number;
  /** JWKS: the cached set is refetched when older than this. */
  jwksCacheSeconds: number;
  /** JWKS: one fetch may take this long. */
  jwksTimeoutMs: number;
}

type Env = Record<string, string | undefined>;

const ASYMMETRIC = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519'];
const SYMMETRIC = ['HS256', 'HS384', 'HS512'];
const CLAIM_NAME = /^[\x21-\x7e]{1,128}$/;

/** The token settings from the environment; `fail` builds the node's configuration error. */
export function authSettings(env: Env, fail: (message: string) => Error): AuthSettings {
  const keySource = keySourceOf(env, fail);
  const algorithms = list(env.PARLEY_JWT_ALGORITHMS);
  const allowed = keySource.kind === 'secret' ? SYMMETRIC : ASYMMETRIC;
  for (const alg of algorithms) {
    if (!allowed.includes(alg)) {
      const why = alg.toLowerCase() === 'none' ? 'unsigned tokens are never accepted' : `with ${describe(keySource)} use one of ${allowed.join(', ')}`;
      throw fail(`PARLEY_JWT_ALGORITHMS: "${alg}" is not allowed: ${why}`);
    }
  }
  const settings: AuthSettings = {
    keySource,
    algorithms: algorithms.length > 0 ? algorithms : keySource.kind === 'secret' ? ['HS256'] : ['RS256', 'ES256', 'EdDSA'],
    issuers: list(env.PARLEY_JWT_ISSUER),
    audiences: list(env.PARLEY_JWT_AUDIENCE),
    clockToleranceSeconds: bounded(env, 'PARLEY_JWT_CLOCK_TOLERANCE_SECONDS', 30, 0, 300, fail),
    userClaim: claimName(env, 'PARLEY_JWT_USER_CLAIM', 'sub', fail),
    adminClaim: claimName(env, 'PARLEY_JWT_ADMIN_CLAIM', 'role', fail),
    adminValue: env.PARLEY_JWT_ADMIN_VALUE || 'admin',
    jwksCooldownSeconds: bounded(env, 'PARLEY_JWKS_COOLDOWN_SECONDS', 30, 1, 3600, fail),
    jwksCacheSeconds: bounded(env, 'PARLEY_JWKS_CACHE_SECONDS', 600, 1, 86_400, fail),
    jwksTimeoutMs: bounded(env, 'PARLEY_JWKS_TIMEOUT_MS', 5000, 100, 60_000, fail),
  };
  if (settings.adminValue.length > 200) throw fail('PARLEY_JWT_ADMIN_VALUE must be at most 200 characters');
  return settings;
}

function keySourceOf(env: Env, fail: (message: string) => Error): KeySource {
  const file = env.PARLEY_JWT_PUBLIC_KEY_FILE;
  const url = env.PARLEY_JWKS_URL;
  if (file && url) throw fail('Set one of PARLEY_JWT_PUBLIC_KEY_FILE and PARLEY_JWKS_URL, not both');
  if (url) {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw fail(`PARLEY_JWKS_URL is not a URL: "${url}"`);
    }
    if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') throw fail(`PARLEY_JWKS_URL must be http(s), got "${url}"`);
    // Keys fetched in the clear can be swapped on the way: anyone on the path could mint tokens.
    if (env.NODE_ENV === 'production' && parsed.protocol !== 'https:') {
      throw fail(`PARLEY_JWKS_URL must be https:// when NODE_ENV=production, got "${url}"`);
    }
    return { kind: 'jwks', url: parsed.href };
  }
  if (file) {
    let pem: string;
    try {
      pem = readFileSync(file, 'utf8');
    } catch (err) {
      throw fail(`PARLEY_JWT_PUBLIC_KEY_FILE: cannot read ${file}: ${(err as Error).message}`);
    }
    if (!/-----BEGIN (PUBLIC KEY|CERTIFICATE)-----/.test(pem)) {
      throw fail(`PARLEY_JWT_PUBLIC_KEY_FILE: ${file} holds no PEM public key or certificate (-----BEGIN PUBLIC KEY-----)`);
    }
    try {
      createPublicKey(pem);
    } catch (err) {
      throw fail(`PARLEY_JWT_PUBLIC_KEY_FILE: ${file} is not a usable public key: ${(err as Error).message}`);
    }
    return { kind: 'pem', file, pem };
  }
  return { kind: 'secret' };
}

function describe(source: KeySource): string {
  return source.kind === 'secret' ? 'an HS256 secret (PARLEY_JWT_SECRET)' : source.kind === 'pem' ? 'a public key file' : 'a JWKS URL';
}

function list(raw: string | undefined): string[] {
  return (raw ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

function claimName(env: Env, name: string, fallback: string, fail: (message: string) => Error): string {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!CLAIM_NAME.test(raw)) throw fail(`${name} must be a claim name (1–128 printable characters), got "${raw}"`);
  return raw;
}

function bounded(env: Env, name: string, fallback: number, min: number, max: number, fail: (message: string) => Error): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) throw fail(`${name} must be an integer from ${min} to ${max}, got "${raw}"`);
  return n;
}
