/**
 * Bearer tokens: what is accepted and what is refused. Every token must end (`exp`), may
 * not be used early (`nbf`) or claim to come from the future (`iat`), and its `sub` and
 * `role` are checked as strictly as a request body.
 */
import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { CLOCK_TOLERANCE_SECONDS, DEFAULT_TTL_SECONDS, signClaims, signToken, verifyToken } from '../../engine/node/config/token.js';

const SECRET = 'unit-secret-of-at-least-32-characters!!';
const NOW = 1_800_000_000; // seconds
const at = (seconds: number) => seconds * 1000;
const verify = (token: string, now = NOW) => verifyToken(SECRET, token, at(now));
const valid = { sub: 'alice', iat: NOW, exp: NOW + 60 };

describe('tokens', () => {
  it('accepts a well-formed token and returns only the claims it checked', () => {
    const token = signClaims(SECRET, { ...valid, role: 'admin', nbf: NOW, extra: 'ignored' });
    expect(verify(token)).toEqual({ sub: 'alice', iat: NOW, nbf: NOW, exp: NOW + 60, role: 'admin' });
  });

  it('signToken always sets exp: the default lifetime, or the one asked for', () => {
    const claims = verifyToken(SECRET, signToken(SECRET, { sub: 'bob' }))!;
    expect(claims.exp - claims.iat!).toBe(DEFAULT_TTL_SECONDS);
    const short = verifyToken(SECRET, signToken(SECRET, { sub: 'bob', ttlSeconds: 5 }))!;
    expect(short.exp - short.iat!).toBe(5);
    expect(verifyToken(SECRET, signToken(SECRET, { sub: 'bob', ttlSeconds: -1 }))).toBeNull();
  });

  it('refuses a token without exp, or with an exp that is not a finite number', () => {
    expect(verify(signClaims(SECRET, { sub: 'alice', iat: NOW }))).toBeNull();
    for (const exp of ['9999999999', null, Infinity, Number.NaN, true, [NOW + 60], { n: NOW + 60 }]) {
      expect(verify(signClaims(SECRET, { sub: 'alice', exp })), String(exp)).toBeNull();
    }
  });

  it('refuses an expired token, with no slack', () => {
    expect(verify(signClaims(SECRET, valid), NOW + 59)).not.toBeNull();
    expect(verify(signClaims(SECRET, valid), NOW + 60)).toBeNull();
    expect(verify(signClaims(SECRET, { ...valid, exp: NOW - 1 }))).toBeNull();
  });

  it('honours nbf, with a small clock tolerance', () => {
    expect(verify(signClaims(SECRET, { ...valid, nbf: NOW + CLOCK_TOLERANCE_SECONDS }))).not.toBeNull();
    expect(verify(signClaims(SECRET, { ...valid, nbf: NOW + CLOCK_TOLERANCE_SECONDS + 1 }))).toBeNull();
    expect(verify(signClaims(SECRET, { ...valid, nbf: NOW + 600, exp: NOW + 3600 }))).toBeNull();
    expect(verify(signClaims(SECRET, { ...valid, nbf: NOW + 600, exp: NOW + 3600 }), NOW + 600)).not.toBeNull();
    expect(verify(signClaims(SECRET, { ...valid, nbf: 'now' }))).toBeNull();
  });

  it('refuses an iat in the future beyond the tolerance', () => {
    expect(verify(signClaims(SECRET, { ...valid, iat: NOW + CLOCK_TOLERANCE_SECONDS }))).not.toBeNull();
    expect(verify(signClaims(SECRET, { ...valid, iat: NOW + CLOCK_TOLERANCE_SECONDS + 1 }))).toBeNull();
    expect(verify(signClaims(SECRET, { ...valid, iat: '0' }))).toBeNull();
    // iat is optional: a token is bounded by exp either way.
    expect(verify(signClaims(SECRET, { sub: 'alice', exp: NOW + 60 }))).not.toBeNull();
  });

  it('requires sub to be a non-empty, bounded string without control characters or lone surrogates', () => {
    for (const sub of [undefined, '', 42, null, ['alice'], { id: 'alice' }, 'x'.repeat(201), 'a\u0000b', 'a\nb', 'tab\t', '\u007f', '\u0085', 'a\ud800']) {
      expect(verify(signClaims(SECRET, { ...valid, sub })), JSON.stringify(sub)).toBeNull();
    }
    for (const sub of ['x'.repeat(200), 'u:1', '__proto__', 'constructor', 'émile 😀', 'a b']) {
      expect(verify(signClaims(SECRET, { ...valid, sub }))?.sub, sub).toBe(sub);
    }
  });

  it('accepts only known roles', () => {
    expect(verify(signClaims(SECRET, { ...valid, role: 'user' }))?.role).toBe('user');
    for (const role of ['root', 'ADMIN', '', 1, null, ['admin'], '__proto__']) {
      expect(verify(signClaims(SECRET, { ...valid, role })), JSON.stringify(role)).toBeNull();
    }
  });

  it('refuses claims that are not an object, forged signatures, other algorithms and malformed tokens', () => {
    for (const claims of [null, 'alice', 42, [valid]]) {
      expect(verify(signClaims(SECRET, claims as object))).toBeNull();
    }
    const token = signClaims(SECRET, valid);
    expect(verify(signClaims('another-secret-of-32-characters!!', valid))).toBeNull();
    const [, payload] = token.split('.');
    const none = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${payload}.`;
    expect(verify(none)).toBeNull();
    const hs512Header = Buffer.from('{"alg":"HS512","typ":"JWT"}').toString('base64url');
    const body = `${hs512Header}.${payload}`;
    expect(verify(`${body}.${createHmac('sha256', SECRET).update(body).digest('base64url')}`)).toBeNull();
    const junkBody = `${Buffer.from('{"alg":"HS256"}').toString('base64url')}.${Buffer.from('{not json').toString('base64url')}`;
    expect(verify(`${junkBody}.${createHmac('sha256', SECRET).update(junkBody).digest('base64url')}`)).toBeNull();
    for (const t of ['', 'a.b', 'a.b.c.d', '..', token.slice(0, -2)]) expect(verify(t), t).toBeNull();
  });
});
