/**
 * Tokens from the user's own identity provider, over real sockets: a JWKS served by the
 * test (keys generated here), a PEM public key file, key rotation, a flood of unknown
 * `kid`s (the node's JWKS fetches are counted at the provider), the provider being down,
 * and the production refusals of a weak HS256 secret. Every principal × route is in
 * the authorization-*.e2e.test.ts files; this file is about the key source itself.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { SignJWT } from 'jose';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLOSE } from '../../protocol/index.js';
import { PARLEY_BIN, serveToEnd } from '../helpers/cli.js';
import { eventually } from '../helpers/eventually.js';
import { api } from '../helpers/http.js';
import { claimsFor, newSigningKey, signWith, startIdentityProvider, TEST_AUDIENCE, TEST_ISSUER, type TestIdentityProvider } from '../helpers/identity-provider.js';
import { startTestNode, type TestNode } from '../helpers/node.js';
import { tempDir } from '../helpers/temp-dir.js';
import { connectWs } from '../helpers/ws-client.js';

const CLAIMS = { PARLEY_JWT_ISSUER: TEST_ISSUER, PARLEY_JWT_AUDIENCE: TEST_AUDIENCE };
const cleanup: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const c of cleanup.reverse()) await c();
});

async function provider(...args: Parameters<typeof startIdentityProvider>): Promise<TestIdentityProvider> {
  const idp = await startIdentityProvider(...args);
  cleanup.push(() => idp.close());
  return idp;
}

async function nodeWith(env: Record<string, string>): Promise<TestNode> {
  const node = await startTestNode({ env: { ...CLAIMS, ...env } });
  cleanup.push(() => node.destroy());
  return node;
}

/** How a sync upgrade ends for a token: the close code (4401, 4503) or 0 once it is open and synced. */
async function syncOutcome(node: TestNode, token: string): Promise<number> {
  const ws = new WebSocket(`${node.url.replace(/^http/, 'ws')}/v1/sync/${encodeURIComponent('notes:00000000-0000-4000-8000-000000000000')}`, {
    headers: { authorization: `Bearer ${token}` },
  });
  ws.on('error', () => undefined);
  return new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
}

/** How a /v1/ws upgrade ends for a token: 'ready', or the close code. */
async function wsOutcome(node: TestNode, token: string): Promise<string | number> {
  const s = await connectWs(node.url, token);
  const outcome = await Promise.race([s.next((f) => f.type === 'ready').then(() => 'ready' as const), s.closed.then((c) => c.code)]);
  s.close();
  return outcome;
}

describe('tokens from a JWKS', () => {
  let idp: TestIdentityProvider;
  let node: TestNode;
  beforeAll(async () => {
    idp = await provider(['RS256', 'ES256', 'EdDSA']);
    // Short cache and cooldown so rotation shows within the test; the flood test below uses the default cooldown.
    node = await nodeWith({ PARLEY_JWKS_URL: idp.jwksUrl, PARLEY_JWKS_CACHE_SECONDS: '1', PARLEY_JWKS_COOLDOWN_SECONDS: '1' });
  });

  it('accepts RS256, ES256 and EdDSA tokens over HTTP, /v1/ws and /v1/sync, with the admin claim mapped', async () => {
    for (const key of idp.keys) {
      const user = `user-${key.alg}`;
      const token = await signWith(key, claimsFor(user));
      expect((await api(node.url, token).get('/v1/conversations')).status, key.alg).toBe(200);
      expect(await wsOutcome(node, token), key.alg).toBe('ready');
      // Authenticated, then refused the document (not a member): 4403, not 4401.
      expect(await syncOutcome(node, token), key.alg).toBe(CLOSE.forbidden);
      const admin = await signWith(key, claimsFor(`admin-${key.alg}`, { role: 'admin' }));
      expect((await api(node.url, admin).get('/v1/admin/projections')).status, key.alg).toBe(200);
      expect((await api(node.url, token).get('/v1/admin/projections')).status, key.alg).toBe(403);
    }
  });

  it('refuses an HS256 token made with a published public key as its secret (algorithm confusion)', async () => {
    const key = idp.keys.find((k) => k.alg === 'RS256')!;
    const forged = await new SignJWT(claimsFor('mallory'))
      .setProtectedHeader({ alg: 'HS256', kid: key.kid })
      .sign(new TextEncoder().encode(key.publicPem));
    expect((await api(node.url, forged).get('/v1/conversations')).status).toBe(401);
    expect(await wsOutcome(node, forged)).toBe(CLOSE.unauthorized);
  });

  it('follows a key rotation: a new kid is accepted once fetched, a withdrawn one refused once the cache ages out', async () => {
    const old = idp.current;
    const oldToken = await idp.token('rotating');
    expect((await api(node.url, oldToken).get('/v1/conversations')).status).toBe(200);
    const fresh = await idp.rotate('ES256');
    const newToken = await idp.token('rotating');
    expect(fresh.kid).not.toBe(old.kid);
    // The unknown kid refetches the set once the 1 s cooldown since the last fetch is over.
    await eventually(async () => expect((await api(node.url, newToken).get('/v1/conversations')).status).toBe(200), 10_000, 100);
    expect(await wsOutcome(node, newToken)).toBe('ready');
    idp.withdraw(old.kid);
    await eventually(async () => expect((await api(node.url, oldToken).get('/v1/conversations')).status).toBe(401), 10_000, 100);
    expect(await wsOutcome(node, oldToken)).toBe(CLOSE.unauthorized);
    expect(await syncOutcome(node, oldToken)).toBe(CLOSE.unauthorized);
    expect((await api(node.url, newToken).get('/v1/conversations')).status).toBe(200);
  });
});

describe('a flood of unknown kids', () => {
  it('is refused without making the node fetch the JWKS more than once per cooldown', async () => {
    const idp = await provider(['ES256']);
    const node = await nodeWith({ PARLEY_JWKS_URL: idp.jwksUrl });
    expect((await api(node.url, await idp.token('warm')).get('/v1/conversations')).status).toBe(200);
    const before = idp.fetches;
    expect(before).toBe(1);
    const started = Date.now();
    const stranger = await newSigningKey('ES256');
    const forged = () => signWith(stranger, claimsFor('flooder'), `kid-${crypto.randomUUID()}`);
    const http = Array.from({ length: 300 }, async () => (await api(node.url, await forged()).get('/v1/conversations')).status);
    const ws = Array.from({ length: 30 }, async () => wsOutcome(node, await forged()));
    const sync = Array.from({ length: 30 }, async () => syncOutcome(node, await forged()));
    expect(new Set(await Promise.all(http))).toEqual(new Set([401]));
    expect(new Set(await Promise.all(ws))).toEqual(new Set([CLOSE.unauthorized]));
    expect(new Set(await Promise.all(sync))).toEqual(new Set([CLOSE.unauthorized]));
    // 360 unknown kids: at most one fetch per 30 s cooldown (one, unless this machine took that long).
    expect(idp.fetches - before).toBeLessThanOrEqual(1 + Math.floor((Date.now() - started) / 30_000));
    expect((await api(node.url, await idp.token('still-fine')).get('/v1/conversations')).status).toBe(200);
  });
});

describe('an identity provider that is down', () => {
  it('answers 503 and closes sockets 4503 (try again), fetches a bounded number of times, and recovers', async () => {
    const idp = await provider(['ES256']);
    idp.failing = true;
    const node = await nodeWith({ PARLEY_JWKS_URL: idp.jwksUrl, PARLEY_JWKS_COOLDOWN_SECONDS: '1' });
    const token = await idp.token('patient');
    const started = Date.now();
    const answers = await Promise.all(Array.from({ length: 100 }, () => api(node.url, token).get('/v1/conversations')));
    for (const a of answers) expect(a).toEqual({ status: 503, body: { code: 'unavailable', message: expect.any(String) } });
    expect(await wsOutcome(node, token)).toBe(CLOSE.tryAgainLater);
    expect(await syncOutcome(node, token)).toBe(CLOSE.tryAgainLater);
    // 102 attempts, but one fetch per 1 s backoff at most: jose coalesces concurrent fetches, the node backs off after a failure.
    expect(idp.fetches).toBeGreaterThanOrEqual(1);
    expect(idp.fetches).toBeLessThanOrEqual(1 + Math.ceil((Date.now() - started) / 1000));
    idp.failing = false;
    await eventually(async () => expect((await api(node.url, token).get('/v1/conversations')).status).toBe(200), 10_000, 100);
    expect(await wsOutcome(node, token)).toBe('ready');
  });
});

describe('tokens verified with a PEM public key', () => {
  it('accepts tokens signed by its private key and nothing else', async () => {
    const dir = tempDir();
    cleanup.push(async () => dir.remove());
    const key = await newSigningKey('RS256', 'pem-key');
    const file = join(dir.path, 'idp.pem');
    writeFileSync(file, key.publicPem);
    const node = await nodeWith({ PARLEY_JWT_PUBLIC_KEY_FILE: file, PARLEY_JWT_ALGORITHMS: 'RS256' });
    const good = await signWith(key, claimsFor('pem-user'), null);
    expect((await api(node.url, good).get('/v1/conversations')).status).toBe(200);
    expect(await wsOutcome(node, good)).toBe('ready');
    const other = await newSigningKey('RS256', 'pem-key');
    const es = await newSigningKey('ES256');
    const confused = await new SignJWT(claimsFor('mallory')).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(key.publicPem));
    for (const bad of [await signWith(other, claimsFor('pem-user')), await signWith(es, claimsFor('pem-user')), confused]) {
      expect((await api(node.url, bad).get('/v1/conversations')).status).toBe(401);
      expect(await wsOutcome(node, bad)).toBe(CLOSE.unauthorized);
      expect(await syncOutcome(node, bad)).toBe(CLOSE.unauthorized);
    }
  });
});

describe('NODE_ENV=production', () => {
  /** Runs `parley serve` to its end; production refusals happen before it listens. */
  async function serve(env: Record<string, string>): Promise<{ code: number | string; stderr: string }> {
    const dir = tempDir();
    try {
      return await serveToEnd({ DATA_DIR: dir.path, LOG_LEVEL: 'info', PARLEY_JWT_SECRET: '', NODE_ENV: 'production', ...env });
    } finally {
      dir.remove();
    }
  }


  it('refuses a missing or short HS256 secret and says what to set', async () => {
    const [missing, short] = await Promise.all([serve({}), serve({ PARLEY_JWT_SECRET: 'only-twenty-four-chars!!' })]);
    for (const run of [missing, short]) {
      expect(run.code, run.stderr).toBe(1);
      expect(run.stderr).toContain('PARLEY_JWT_SECRET');
      expect(run.stderr).toContain('32');
      expect(run.stderr).toContain('PARLEY_JWKS_URL');
      expect(run.stderr).not.toMatch(/\n\s+at /);
    }
    expect(short.stderr).toContain('is 24 bytes');
  });

  it('parley token will not mint HS256 tokens for a node that takes its identity provider\'s only', async () => {
    const dir = tempDir();
    cleanup.push(async () => dir.remove());
    const run = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, [PARLEY_BIN, 'token', 'alice', '--data-dir', dir.path], {
        env: { ...process.env, PARLEY_JWKS_URL: 'https://id.parley.test/.well-known/jwks.json', NODE_ENV: 'production', PARLEY_JWT_SECRET: '' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => (stdout += d));
      child.stderr.on('data', (d) => (stderr += d));
      child.once('exit', (code) => resolve({ code, stdout, stderr }));
    });
    expect(run.code, run.stderr).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr).toContain('PARLEY_JWKS_URL');
  });
});
