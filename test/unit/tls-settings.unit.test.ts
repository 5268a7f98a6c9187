/**
 * The TLS and NATS credential settings as loadConfig reads them: what production refuses,
 * which settings go together or exclude each other (each refusal names the settings), and
 * that a rotated nkey seed file is used on the next connect while a vanished one keeps
 * the last good seed.
 */
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { nkeys } from '@nats-io/transport-node';
import { afterAll, describe, expect, it } from 'vitest';
import { natsSecurity } from '../../engine/cluster/nats-security.js';
import { loadConfig } from '../../engine/node/index.js';
import { refusePlainHttpInProduction, refusePlainNatsInProduction } from '../../engine/node/config/index.js';
import { tempDir } from '../helpers/temp-dir.js';

const dir = tempDir('parley-tls-settings-');
afterAll(() => dir.remove());
const file = (name: string, text = 'x') => {
  const path = join(dir.path, name);
  writeFileSync(path, text);
  return path;
};
const load = (env: Record<string, string>) => loadConfig({ DATA_DIR: dir.path, PARLEY_JWT_SECRET: 'a-secret-of-enough-length-here-for-production!', ...env });

describe('server TLS settings', () => {
  it('production refuses plain HTTP, naming what to set; a certificate or a declared proxy satisfies it', () => {
    const serving = (env: Record<string, string>) => {
      const config = load(env);
      refusePlainHttpInProduction(env, config);
      return config;
    };
    expect(() => serving({ NODE_ENV: 'production' })).toThrow(/PARLEY_TLS_CERT and PARLEY_TLS_KEY .* or PARLEY_TLS_TERMINATED_BY_PROXY=1/);
    expect(serving({ NODE_ENV: 'production', PARLEY_TLS_TERMINATED_BY_PROXY: '1' })).toMatchObject({ tls: null, tlsTerminatedByProxy: true });
    const cert = file('node.crt');
    const key = file('node.key');
    expect(serving({ NODE_ENV: 'production', PARLEY_TLS_CERT: cert, PARLEY_TLS_KEY: key })).toMatchObject({ tls: { certFile: cert, keyFile: key } });
    // Commands that serve nothing (parley token, the ops commands) load the same settings without TLS.
    expect(load({ NODE_ENV: 'production' })).toMatchObject({ tls: null });
    expect(load({})).toMatchObject({ tls: null, tlsTerminatedByProxy: false });
  });

  it('refuses half a pair, an unreadable file and an odd flag, naming the setting', () => {
    expect(() => load({ PARLEY_TLS_CERT: file('only.crt') })).toThrow(/PARLEY_TLS_CERT and PARLEY_TLS_KEY go together/);
    expect(() => load({ PARLEY_TLS_CERT: join(dir.path, 'missing.crt'), PARLEY_TLS_KEY: file('k.key') })).toThrow(/PARLEY_TLS_CERT: cannot read .*missing\.crt \(ENOENT\)/);
    expect(() => load({ PARLEY_TLS_TERMINATED_BY_PROXY: 'yes' })).toThrow(/PARLEY_TLS_TERMINATED_BY_PROXY must be 1 or 0/);
  });
});

describe('NATS settings', () => {
  it('takes one kind of credentials and refuses two, or half of user/password', () => {
    expect(load({ PARLEY_NATS_USER: 'u', PARLEY_NATS_PASSWORD: 'p' }).natsAuth).toEqual({ kind: 'user', user: 'u', password: 'p' });
    expect(load({ PARLEY_NATS_TOKEN: 't' }).natsAuth).toEqual({ kind: 'token', token: 't' });
    expect(() => load({ PARLEY_NATS_TOKEN: 't', PARLEY_NATS_CREDS: file('a.creds') })).toThrow(/one way to authenticate, got PARLEY_NATS_TOKEN and PARLEY_NATS_CREDS/);
    expect(() => load({ PARLEY_NATS_USER: 'u' })).toThrow(/PARLEY_NATS_USER and PARLEY_NATS_PASSWORD go together/);
    expect(() => load({ PARLEY_NATS_TLS_CERT: file('c.crt') })).toThrow(/PARLEY_NATS_TLS_CERT and PARLEY_NATS_TLS_KEY go together/);
    expect(load({ PARLEY_NATS_TLS_CA: file('ca.crt') }).natsTls).toEqual({ caFile: join(dir.path, 'ca.crt') });
    expect(load({})).toMatchObject({ natsTls: null, natsAuth: null });
  });

  it('production refuses plain NATS to another host, naming what to set; loopback, TLS or a declared encrypted network satisfy it', () => {
    const serving = (env: Record<string, string>) => {
      const config = load(env);
      refusePlainNatsInProduction(env, config);
      return config.natsUrls;
    };
    const prod = { NODE_ENV: 'production' };
    expect(() => serving({ ...prod, NATS_URL: 'nats://127.0.0.1:4222,nats://nats-2.internal:4222' })).toThrow(
      /plain NATS to another host \(nats:\/\/nats-2\.internal:4222\).*PARLEY_NATS_TLS_CA.*tls:\/\/.*PARLEY_NATS_ALLOW_PLAIN=1/,
    );
    expect(() => serving({ ...prod, NATS_URL: '10.0.0.7:4222' })).toThrow(/plain NATS to another host \(10\.0\.0\.7:4222\)/);
    expect(serving({ ...prod, NATS_URL: 'nats://127.0.0.1:4222,localhost:4223,nats://[::1]:4224' })).toHaveLength(3);
    expect(serving({ ...prod, NATS_URL: 'tls://nats-1.internal:4222' })).toEqual(['tls://nats-1.internal:4222']);
    expect(serving({ ...prod, NATS_URL: 'nats://nats-1.internal:4222', PARLEY_NATS_TLS_CA: file('nats-ca.crt') })).toHaveLength(1);
    expect(serving({ ...prod, NATS_URL: 'nats://nats-1.internal:4222', PARLEY_NATS_ALLOW_PLAIN: '1' })).toHaveLength(1);
    expect(serving({ NATS_URL: 'nats://nats-1.internal:4222' })).toHaveLength(1); // not production
  });

  it('a rotated nkey seed file is read on the next connect; a vanished one keeps the last good seed', () => {
    const first = nkeys.createUser();
    const second = nkeys.createUser();
    const seedFile = file('node.nk', new TextDecoder().decode(first.getSeed()));
    const { authenticator } = natsSecurity({ natsAuth: { kind: 'nkey', seedFile } });
    const auth = authenticator as (nonce?: string) => { nkey?: string };
    expect(auth('nonce').nkey).toBe(first.getPublicKey());
    writeFileSync(seedFile, `${new TextDecoder().decode(second.getSeed())}\n`);
    expect(auth('nonce').nkey).toBe(second.getPublicKey());
    writeFileSync(seedFile, 'SU-half-written');
    expect(auth('nonce').nkey).toBe(second.getPublicKey());
    rmSync(seedFile);
    expect(auth('nonce').nkey).toBe(second.getPublicKey());
  });
});
