/**
 * Bearer tokens: what is accepted and what is refused, with the node's HS256 secret (the
 * default key source). Every token must end (`exp`), may not be used early (`nbf`) or
 * claim to come from the future (`iat`), and the user id and admin claims are checked as
 * strictly as a request body. Public keys and JWKS: test/e2e/identity-provider.e2e.test.ts.
 */
import { createHmac } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createTokenVerifier, DEFAULT_TTL_SECONDS, signClaims, signToken } from '../../engine/node/auth/index.js';
import { authSettings, loadConfig, type AuthSettings } from '../../engine/node/config/index.js';
import { tempDir } from '../helpers/temp-dir.js';

const SECRET = 'unit-secret-of-at-least-32-characters!!';
const NOW = 1_800_000_000; // seconds
const settingsOf = (env: Record<string, string> = {}): AuthSettings => authSettings(env, (m) => new Error(m));
const DEFAULTS = settingsOf();
const TOLERANCE = DEFAULTS.clockToleranceSeconds;
const verifier = createTokenVerifier(DEFAULTS, SECRET);
const verify = (token: string, now = NOW) => verifier.verify(token, now * 1000);
const valid = { sub: 'alice', iat: NOW, exp: NOW + 60 };

describe('tokens', () => {
  it('accepts a well-formed token and returns only what the node acts on', async () => {
    const token = signClaims(SECRET, { ...valid, role: 'admin', nbf: NOW, extra: 'ignored' });
    expect(await verify(token)).toEqual({ sub: 'alice', exp: NOW + 60, role: 'admin' });
    expect(await verify(signClaims(SECRET, valid))).toEqual({ sub: 'alice', exp: NOW + 60, role: 'user' });
  });

  it('signToken always sets exp: the default lifetime, or the one asked for', async () => {
    const lifetime = (t: string) => {
      const c = JSON.parse(Buffer.from(t.split('.')[1]!, 'base64url').toString()) as { iat: number; exp: number };
      return c.exp - c.iat;
    };
    const long = signToken(SECRET, { sub: 'bob' });
    expect(lifetime(long)).toBe(DEFAULT_TTL_SECONDS);
    expect(await verifier.verify(long)).toMatchObject({ sub: 'bob' });
    const short = signToken(SECRET, { sub: 'bob', ttlSeconds: 5 });
    expect(lifetime(short)).toBe(5);
    expect(await verifier.verify(short)).toMatchObject({ sub: 'bob' });
    expect(await verifier.verify(signToken(SECRET, { sub: 'bob', ttlSeconds: -1 }))).toBeNull();
  });

  it('refuses a token without exp, or with an exp that is not a finite number', async () => {
    expect(await verify(signClaims(SECRET, { sub: 'alice', iat: NOW }))).toBeNull();
    for (const exp of ['9999999999', null, true, [NOW + 60], { n: NOW + 60 }, 1e400]) {
      expect(await verify(signClaims(SECRET, { sub: 'alice', exp })), String(exp)).toBeNull();
    }
  });

  it('refuses an expired token, with no slack', async () => {
    expect(await verify(signClaims(SECRET, valid), NOW + 59)).not.toBeNull();
    expect(await verify(signClaims(SECRET, valid), NOW + 60)).toBeNull();
    expect(await verify(signClaims(SECRET, { ...valid, exp: NOW - 1 }))).toBeNull();
  });

  it('honours nbf, with the clock tolerance', async () => {
    expect(await verify(signClaims(SECRET, { ...valid, nbf: NOW + TOLERANCE }))).not.toBeNull();
    expect(await verify(signClaims(SECRET, { ...valid, nbf: NOW + TOLERANCE + 1 }))).toBeNull();
    expect(await verify(signClaims(SECRET, { ...valid, nbf: NOW + 600, exp: NOW + 3600 }))).toBeNull();
    expect(await verify(signClaims(SECRET, { ...valid, nbf: NOW + 600, exp: NOW + 3600 }), NOW + 600)).not.toBeNull();
    expect(await verify(signClaims(SECRET, { ...valid, nbf: 'now' }))).toBeNull();
  });

  it('remembers a verified token only while it is valid, and never for a time before it was verified', async () => {
    const v = createTokenVerifier(DEFAULTS, SECRET);
    const token = signClaims(SECRET, { sub: 'carol', nbf: NOW + 600, exp: NOW + 660 });
    expect(await v.verify(token, (NOW + 600) * 1000)).toMatchObject({ sub: 'carol' });
    expect(await v.verify(token, (NOW + 601) * 1000)).toMatchObject({ sub: 'carol' });
    expect(await v.verify(token, NOW * 1000)).toBeNull();
    expect(await v.verify(token, (NOW + 660) * 1000)).toBeNull();
  });

  it('answers from what it remembers only for that very token: one changed character is verified again, and refused', async () => {
    const v = createTokenVerifier(DEFAULTS, SECRET);
    const token = signClaims(SECRET, { sub: 'dave', exp: NOW + 60 });
    expect(await v.verify(token, NOW * 1000)).toMatchObject({ sub: 'dave' });
    const last = token.at(-1)!;
    const tampered = token.slice(0, -1) + (last === 'A' ? 'B' : 'A');
    const otherUser = signClaims('another-secret-of-at-least-32-characters', { sub: 'dave', exp: NOW + 60 });
    expect(await v.verify(tampered, NOW * 1000)).toBeNull();
    expect(await v.verify(otherUser, NOW * 1000)).toBeNull();
    expect(await v.verify(token, NOW * 1000)).toMatchObject({ sub: 'dave' });
  });

  it('refuses an iat in the future beyond the tolerance', async () => {
    expect(await verify(signClaims(SECRET, { ...valid, iat: NOW + TOLERANCE }))).not.toBeNull();
    expect(await verify(signClaims(SECRET, { ...valid, iat: NOW + TOLERANCE + 1 }))).toBeNull();
    expect(await verify(signClaims(SECRET, { ...valid, iat: '0' }))).toBeNull();
    // iat is optional: a token is bounded by exp either way.
    expect(await verify(signClaims(SECRET, { sub: 'alice', exp: NOW + 60 }))).not.toBeNull();
  });

  it('requires the user id to be a non-empty, bounded string without control characters or lone surrogates', async () => {
    for (const sub of [undefined, '', 42, null, ['alice'], { id: 'alice' }, 'x'.repeat(201), 'a\u0000b', 'a\nb', 'tab\t', '\u007f', '\u0085', 'a\ud800']) {
      expect(await verify(signClaims(SECRET, { ...valid, sub })), JSON.stringify(sub)).toBeNull();
    }
    for (const sub of ['x'.repeat(200), 'u:1', '__proto__', 'constructor', 'émile 😀', 'a b']) {
      expect((await verify(signClaims(SECRET, { ...valid, sub })))?.sub, sub).toBe(sub);
    }
  });

  it('grants admin only for the admin value; an admin claim of another shape refuses the token', async () => {
    for (const role of ['user', 'root', 'ADMIN', '', '__proto__', ['user'], []]) {
      expect((await verify(signClaims(SECRET, { ...valid, role })))?.role, JSON.stringify(role)).toBe('user');
    }
    expect((await verify(signClaims(SECRET, { ...valid, role: ['user', 'admin'] })))?.role).toBe('admin');
    for (const role of [1, null, { admin: true }, [1], Array(65).fill('admin')]) {
      expect(await verify(signClaims(SECRET, { ...valid, role })), JSON.stringify(role)).toBeNull();
    }
  });

  it('takes the user id and admin grant from the configured claims, own properties only', async () => {
    const v = createTokenVerifier(settingsOf({ PARLEY_JWT_USER_CLAIM: 'uid', PARLEY_JWT_ADMIN_CLAIM: 'groups', PARLEY_JWT_ADMIN_VALUE: 'chat-admins' }), SECRET);
    const at = (t: string) => v.verify(t, NOW * 1000);
    expect(await at(signClaims(SECRET, { uid: 'u-1', sub: 'ignored', exp: NOW + 60, groups: ['staff', 'chat-admins'] }))).toEqual({ sub: 'u-1', exp: NOW + 60, role: 'admin' });
    expect(await at(signClaims(SECRET, { uid: 'u-1', exp: NOW + 60, role: 'admin' }))).toMatchObject({ role: 'user' });
    expect(await at(signClaims(SECRET, { sub: 'alice', exp: NOW + 60 }))).toBeNull();
    const proto = createTokenVerifier(settingsOf({ PARLEY_JWT_USER_CLAIM: 'constructor' }), SECRET);
    expect(await proto.verify(signClaims(SECRET, { exp: NOW + 60 }), NOW * 1000)).toBeNull();
  });

  it('checks issuer and audience when configured', async () => {
    const v = createTokenVerifier(settingsOf({ PARLEY_JWT_ISSUER: 'https://id.example', PARLEY_JWT_AUDIENCE: 'parley,chat' }), SECRET);
    const at = (claims: object) => v.verify(signClaims(SECRET, { ...valid, ...claims }), NOW * 1000);
    expect(await at({ iss: 'https://id.example', aud: 'chat' })).not.toBeNull();
    expect(await at({ iss: 'https://id.example', aud: ['other', 'parley'] })).not.toBeNull();
    for (const claims of [{}, { iss: 'https://id.example' }, { aud: 'parley' }, { iss: 'https://evil.example', aud: 'parley' }, { iss: 'https://id.example', aud: 'other' }]) {
      expect(await at(claims), JSON.stringify(claims)).toBeNull();
    }
  });

  it('refuses claims that are not an object, forged signatures, other algorithms, oversized and malformed tokens', async () => {
    for (const claims of [null, 'alice', 42, [valid]]) {
      expect(await verify(signClaims(SECRET, claims as object))).toBeNull();
    }
    const token = signClaims(SECRET, valid);
    expect(await verify(signClaims('another-secret-of-32-characters!!', valid))).toBeNull();
    const [, payload] = token.split('.');
    const none = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${payload}.`;
    expect(await verify(none)).toBeNull();
    const hs512Header = Buffer.from('{"alg":"HS512","typ":"JWT"}').toString('base64url');
    const body = `${hs512Header}.${payload}`;
    expect(await verify(`${body}.${createHmac('sha256', SECRET).update(body).digest('base64url')}`)).toBeNull();
    const junkBody = `${Buffer.from('{"alg":"HS256"}').toString('base64url')}.${Buffer.from('{not json').toString('base64url')}`;
    expect(await verify(`${junkBody}.${createHmac('sha256', SECRET).update(junkBody).digest('base64url')}`)).toBeNull();
    for (const t of ['', 'a.b', 'a.b.c.d', '..', token.slice(0, -2), signClaims(SECRET, { ...valid, pad: 'x'.repeat(9000) })]) {
      expect(await verify(t), t.slice(0, 40)).toBeNull();
    }
  });
});

describe('token settings', () => {
  const fail = (env: Record<string, string>) => () => settingsOf(env);

  it('never allows none, HS* with a public key, or RS*/ES* with a secret', () => {
    expect(fail({ PARLEY_JWT_ALGORITHMS: 'none' })).toThrow(/never accepted/);
    expect(fail({ PARLEY_JWKS_URL: 'https://id.example/jwks', PARLEY_JWT_ALGORITHMS: 'RS256,HS256' })).toThrow(/"HS256" is not allowed/);
    expect(fail({ PARLEY_JWT_ALGORITHMS: 'RS256' })).toThrow(/"RS256" is not allowed/);
    expect(settingsOf({ PARLEY_JWKS_URL: 'https://id.example/jwks' }).algorithms).toEqual(['RS256', 'ES256', 'EdDSA']);
    expect(DEFAULTS.algorithms).toEqual(['HS256']);
  });

  it('refuses a JWKS URL and a key file together, a non-http URL, and http in production', () => {
    expect(fail({ PARLEY_JWKS_URL: 'https://a/jwks', PARLEY_JWT_PUBLIC_KEY_FILE: '/k.pem' })).toThrow(/not both/);
    expect(fail({ PARLEY_JWKS_URL: 'file:///etc/passwd' })).toThrow(/http/);
    expect(fail({ PARLEY_JWKS_URL: 'http://id.example/jwks', NODE_ENV: 'production' })).toThrow(/https/);
    expect(fail({ PARLEY_JWT_PUBLIC_KEY_FILE: '/nonexistent/key.pem' })).toThrow(/cannot read/);
    const dir = tempDir();
    const broken = join(dir.path, 'broken.pem');
    writeFileSync(broken, '-----BEGIN PUBLIC KEY-----\nnot base64 at all\n-----END PUBLIC KEY-----\n');
    expect(fail({ PARLEY_JWT_PUBLIC_KEY_FILE: broken })).toThrow(/not a usable public key/);
    dir.remove();
    expect(fail({ PARLEY_JWT_CLOCK_TOLERANCE_SECONDS: '-1' })).toThrow(/0 to 300/);
  });
});

describe('NODE_ENV=production and the HS256 secret', () => {
  const dir = tempDir();
  afterAll(() => dir.remove());
  const load = (env: Record<string, string>) => loadConfig({ NODE_ENV: 'production', DATA_DIR: dir.path, ...env });

  it('refuses a missing or short secret, naming what to set; takes one of 32 bytes or more', () => {
    expect(() => load({})).toThrow(/PARLEY_JWT_SECRET is required.*32.*PARLEY_JWKS_URL/);
    expect(() => load({ PARLEY_JWT_SECRET: 'x'.repeat(31) })).toThrow(/31 bytes.*at least 32/);
    // Bytes, not characters: 11 three-byte characters are 33 bytes.
    expect(load({ PARLEY_JWT_SECRET: '€'.repeat(11) }).jwtSecretSource).toBe('env');
    expect(() => loadConfig({ NODE_ENV: 'production' }, { dataDir: dir.path, jwtSecret: 'short-but-16-chars' })).toThrow(/at least 32/);
  });

  it('needs no secret when tokens come from an identity provider', () => {
    const config = load({ PARLEY_JWKS_URL: 'https://id.example/.well-known/jwks.json' });
    expect(config.jwtSecretSource).toBe('none');
    expect(config.auth.keySource).toEqual({ kind: 'jwks', url: 'https://id.example/.well-known/jwks.json' });
  });

  it('keeps the development secret outside production', () => {
    expect(loadConfig({ DATA_DIR: dir.path }).jwtSecretSource).toMatch(/generated|file/);
  });
});
