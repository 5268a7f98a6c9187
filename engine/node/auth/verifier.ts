/**
 * Verifying bearer tokens with jose: the signature against the configured key source (the
 * HS256 secret, a PEM public key, or the identity provider's JWKS), an `alg` from the
 * allowed list only (never `none`; never HS* with a public key), `iss` and `aud` when
 * configured, `nbf` with the clock tolerance; then the claims the node acts on
 * (claims.ts).
 *
 * The JWKS is jose's remote key set: fetched on first use, cached, refetched when older
 * than the cache age, and on a `kid` it does not hold, but at most once per cooldown, so
 * a flood of tokens with made-up kids cannot make the node fetch without bound. A failed
 * fetch blocks further attempts for a short while too (jose retries a failed fetch on the
 * next token), so an identity provider that is down is not hammered either. Keys that
 * cannot be fetched are the node's problem, not the caller's: `unavailable` (503, or a
 * transient close), never `unauthorized`, which tells a client to give up.
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import { createRemoteJWKSet, customFetch, errors, importJWK, jwtVerify, type CryptoKey, type JWTVerifyGetKey, type JWTVerifyOptions } from 'jose';
import { ParleyError } from '../../../protocol/index.js';
import type { AuthSettings } from '../config/index.js';
import { claimsOf, type TokenClaims } from './claims.js';
import { VerifiedTokens } from './verified-tokens.js';

/** Longer tokens are refused before any parsing: real ones are a few KB at most. */
export const MAX_TOKEN_LENGTH = 8192;
/** After a failed JWKS fetch, no other is tried for this long (or the cooldown, if shorter). */
const FAILED_FETCH_BACKOFF_MS = 5000;
/** Tokens whose verification is remembered (verified-tokens.ts), and for how long at most. */
const VERIFIED_TOKENS = 4096;
const VERIFIED_FOR_MS = 60_000;

export interface TokenVerifier {
  /** The caller the token names, or null when it is not a valid token; rejects with `unavailable` when keys cannot be fetched. */
  verify(token: string, nowMs?: number): Promise<TokenClaims | null>;
}

export interface VerifierOptions {
  /** Where key-fetch failures are reported (at most one line per backoff). */
  log?: { warn(obj: object, msg: string): void };
  /** The fetch the JWKS uses (default: the global fetch). */
  fetch?: typeof fetch;
}

/** The JWKS could not be fetched; the token may be fine. */
class KeysUnavailable extends Error {
  override readonly name = 'KeysUnavailable';
}

/** A verifier for the node's settings; `secret` is the HS256 key when the key source is the secret. */
export function createTokenVerifier(settings: AuthSettings, secret: string, options: VerifierOptions = {}): TokenVerifier {
  const key = keyOf(settings, secret, options);
  const verifyOptions: JWTVerifyOptions = {
    algorithms: settings.algorithms,
    clockTolerance: settings.clockToleranceSeconds,
    requiredClaims: ['exp'],
    ...(settings.issuers.length > 0 && { issuer: settings.issuers }),
    ...(settings.audiences.length > 0 && { audience: settings.audiences }),
  };
  // With a JWKS, no longer than the key set is cached: a withdrawn key's tokens stop as soon as without this.
  const verified = new VerifiedTokens(
    VERIFIED_TOKENS,
    settings.keySource.kind === 'jwks' ? Math.min(VERIFIED_FOR_MS, settings.jwksCacheSeconds * 1000) : VERIFIED_FOR_MS,
  );
  let lastWarning = 0;
  return {
    async verify(token, nowMs = Date.now()) {
      if (token.length === 0 || token.length > MAX_TOKEN_LENGTH) return null;
      const known = verified.get(token, nowMs);
      if (known) return known;
      try {
        const { payload } = await jwtVerify(token, key as JWTVerifyGetKey, { ...verifyOptions, currentDate: new Date(nowMs) });
        const claims = claimsOf(payload as Record<string, unknown>, nowMs / 1000, settings);
        if (claims) verified.set(token, claims, nowMs);
        return claims;
      } catch (err) {
        if (!(err instanceof KeysUnavailable)) return null;
        if (Date.now() - lastWarning > FAILED_FETCH_BACKOFF_MS) {
          lastWarning = Date.now();
          options.log?.warn({ err: err.cause ?? err }, 'cannot fetch the JWKS (PARLEY_JWKS_URL): tokens are refused with 503 until it answers');
        }
        throw new ParleyError('unavailable', "The identity provider's keys could not be fetched; try again later");
      }
    },
  };
}

function keyOf(settings: AuthSettings, secret: string, options: VerifierOptions): KeyObject | JWTVerifyGetKey {
  const source = settings.keySource;
  switch (source.kind) {
    case 'secret':
      return secretKeys(secret);
    case 'pem':
      // An SPKI public key or an X.509 certificate; jose checks the key type against each token's alg.
      return createPublicKey(source.pem);
    case 'jwks':
      return remoteKeys(source.url, settings, options.fetch ?? fetch);
  }
}

/**
 * The secret as a WebCrypto key per HS algorithm, imported once: given raw bytes, jose
 * imports them again for every token. jose checks `alg` against the allowed list before
 * asking, so this holds at most one key per allowed algorithm.
 */
function secretKeys(secret: string): JWTVerifyGetKey {
  const jwk = { kty: 'oct', k: Buffer.from(secret, 'utf8').toString('base64url') };
  const keys = new Map<string, Promise<CryptoKey>>();
  return (header) => {
    let key = keys.get(header.alg!);
    if (!key) keys.set(header.alg!, (key = importJWK(jwk, header.alg) as Promise<CryptoKey>));
    return key;
  };
}

/** jose's remote key set, with fetch failures turned into KeysUnavailable and backed off. */
function remoteKeys(url: string, settings: AuthSettings, fetchImpl: typeof fetch): JWTVerifyGetKey {
  const backoffMs = Math.min(FAILED_FETCH_BACKOFF_MS, settings.jwksCooldownSeconds * 1000);
  let blockedUntil = 0;
  const guardedFetch = async (input: string | URL, init?: RequestInit): Promise<Response> => {
    if (Date.now() < blockedUntil) throw new KeysUnavailable('the last JWKS fetch failed moments ago');
    try {
      const response = await fetchImpl(input, init);
      if (response.status !== 200) blockedUntil = Date.now() + backoffMs;
      return response;
    } catch (err) {
      blockedUntil = Date.now() + backoffMs;
      throw err;
    }
  };
  const jwks = createRemoteJWKSet(new URL(url), {
    cooldownDuration: settings.jwksCooldownSeconds * 1000,
    cacheMaxAge: settings.jwksCacheSeconds * 1000,
    timeoutDuration: settings.jwksTimeoutMs,
    [customFetch]: guardedFetch,
  });
  return async (header, token) => {
    try {
      return await jwks(header, token);
    } catch (err) {
      // No key for this kid/alg is the token's fault; anything else is the fetch's.
      if (err instanceof errors.JWKSNoMatchingKey || err instanceof errors.JWKSMultipleMatchingKeys) throw err;
      throw new KeysUnavailable('cannot fetch the JWKS', { cause: err });
    }
  };
}
