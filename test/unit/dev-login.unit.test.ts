/**
 * When the development sign-in (POST /v1/dev/token) is on: with a secret the node made
 * itself, or PARLEY_DEV_LOGIN=on; never in production, where asking for it stops the start.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../engine/node/index.js';
import { tempDir } from '../helpers/temp-dir.js';

const dirs: Array<{ remove(): void }> = [];
afterAll(() => dirs.forEach((d) => d.remove()));
const load = (env: Record<string, string>) => {
  const dir = tempDir('parley-dev-login-');
  dirs.push(dir);
  return loadConfig({ DATA_DIR: dir.path, PARLEY_TLS_TERMINATED_BY_PROXY: '1', ...env });
};
const SECRET = { PARLEY_JWT_SECRET: 'a-development-secret-of-well-over-32-bytes' };

describe('dev sign-in', () => {
  it('is on with the node-made development secret, first run and later ones', () => {
    const dir = tempDir('parley-dev-login-');
    dirs.push(dir);
    expect(loadConfig({ DATA_DIR: dir.path })).toMatchObject({ jwtSecretSource: 'generated', devLogin: true });
    expect(loadConfig({ DATA_DIR: dir.path })).toMatchObject({ jwtSecretSource: 'file', devLogin: true });
    expect(load({ PARLEY_DEV_LOGIN: 'off' })).toMatchObject({ devLogin: false });
  });

  it('is off with a configured secret unless asked for', () => {
    expect(load(SECRET)).toMatchObject({ jwtSecretSource: 'env', devLogin: false });
    expect(load({ ...SECRET, PARLEY_DEV_LOGIN: 'on' })).toMatchObject({ devLogin: true });
    expect(() => load({ ...SECRET, PARLEY_DEV_LOGIN: 'maybe' })).toThrow(/PARLEY_DEV_LOGIN must be on or off/);
  });

  it('is never on in production, and asking for it there refuses to start', () => {
    expect(load({ ...SECRET, NODE_ENV: 'production' })).toMatchObject({ devLogin: false });
    expect(() => load({ ...SECRET, NODE_ENV: 'production', PARLEY_DEV_LOGIN: 'on' })).toThrow(/PARLEY_DEV_LOGIN=on .* refused when NODE_ENV=production/);
  });

  it('is off, and refused when asked for, on a node that verifies its identity provider\'s keys (it mints HS256)', () => {
    const key = { PARLEY_JWKS_URL: 'http://127.0.0.1:9/jwks.json' };
    expect(load(key)).toMatchObject({ devLogin: false });
    expect(() => load({ ...key, PARLEY_DEV_LOGIN: 'on' })).toThrow(/PARLEY_DEV_LOGIN=on needs PARLEY_JWT_SECRET/);
  });
});
