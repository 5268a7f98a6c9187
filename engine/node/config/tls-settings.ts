/**
 * The transport security settings: the certificate the node serves HTTPS and WSS with,
 * and how it reaches NATS (TLS, credentials). Only file paths and names are kept here;
 * the files are read where they are used (http-server, cluster), so a certificate can be
 * replaced on disk and reloaded (SIGHUP) without a restart.
 *
 * A serving node in production refuses plain HTTP unless the operator says a proxy in
 * front terminates TLS: bearer tokens and messages must not cross a network in the clear
 * by accident.
 */
import { accessSync, constants } from 'node:fs';
import { resolve } from 'node:path';
import { ConfigError } from './errors.js';

/** PEM files of the node's HTTPS/WSS server (PARLEY_TLS_CERT, PARLEY_TLS_KEY). */
export interface ServerTlsFiles {
  /** Certificate chain: the node's certificate first, then any intermediates. */
  certFile: string;
  keyFile: string;
}

/** PEM files for the NATS connection; each one optional (a CA alone is server-only TLS). */
export interface NatsTlsFiles {
  caFile?: string;
  certFile?: string;
  keyFile?: string;
}

/** One way to authenticate to NATS; they exclude each other as nats-server's do. */
export type NatsAuth =
  | { kind: 'user'; user: string; password: string }
  | { kind: 'token'; token: string }
  | { kind: 'nkey'; seedFile: string }
  | { kind: 'creds'; credsFile: string };

export interface TlsSettings {
  /** Serve HTTPS and WSS with these files; null: plain HTTP. */
  tls: ServerTlsFiles | null;
  /** The operator declares that a proxy in front terminates TLS (PARLEY_TLS_TERMINATED_BY_PROXY). */
  tlsTerminatedByProxy: boolean;
  /** TLS towards NATS; null: whatever the server offers (plain unless it requires TLS). */
  natsTls: NatsTlsFiles | null;
  /** Credentials for NATS; null: none. */
  natsAuth: NatsAuth | null;
}

type Env = Record<string, string | undefined>;

export function tlsSettings(env: Env, overrides: Partial<TlsSettings>): TlsSettings {
  const settings: TlsSettings = {
    tls: overrides.tls !== undefined ? overrides.tls : serverTls(env),
    tlsTerminatedByProxy: overrides.tlsTerminatedByProxy ?? flag(env, 'PARLEY_TLS_TERMINATED_BY_PROXY'),
    natsTls: overrides.natsTls !== undefined ? overrides.natsTls : natsTls(env),
    natsAuth: overrides.natsAuth !== undefined ? overrides.natsAuth : natsAuth(env),
  };
  return settings;
}

/**
 * For a node about to serve (not for `parley token` or the ops commands, which serve
 * nothing): production refuses plain HTTP unless a proxy in front terminates TLS.
 */
export function refusePlainHttpInProduction(env: Env, settings: Pick<TlsSettings, 'tls' | 'tlsTerminatedByProxy'>): void {
  if (env.NODE_ENV === 'production' && !settings.tls && !settings.tlsTerminatedByProxy) {
    throw new ConfigError(
      'NODE_ENV=production refuses plain HTTP: set PARLEY_TLS_CERT and PARLEY_TLS_KEY (PEM files) to serve HTTPS and WSS, ' +
        'or PARLEY_TLS_TERMINATED_BY_PROXY=1 when a proxy in front of the node terminates TLS',
    );
  }
}

/**
 * For a node about to serve: production refuses to reach a NATS server on another host
 * without TLS (every event and token crosses that link), unless the operator says the
 * network itself is encrypted (PARLEY_NATS_ALLOW_PLAIN=1, e.g. a service mesh with mTLS).
 * Loopback needs no TLS: nothing leaves the machine.
 */
export function refusePlainNatsInProduction(env: Env, settings: { natsUrls: readonly string[]; natsTls: NatsTlsFiles | null }): void {
  if (env.NODE_ENV !== 'production' || settings.natsTls || flag(env, 'PARLEY_NATS_ALLOW_PLAIN')) return;
  const remote = settings.natsUrls.filter((u) => !u.toLowerCase().startsWith('tls://') && !isLoopback(natsHost(u)));
  if (remote.length === 0) return;
  throw new ConfigError(
    `NODE_ENV=production refuses plain NATS to another host (${remote.join(', ')}): set PARLEY_NATS_TLS_CA (and a client ` +
      'certificate if the server asks for one) or use tls:// URLs, or PARLEY_NATS_ALLOW_PLAIN=1 when the network between the node and NATS is encrypted',
  );
}

/** The host of a NATS URL as nats.js takes them ("nats://h:4222", "h:4222", "[::1]:4222"). */
function natsHost(url: string): string {
  const withScheme = /^[a-z]+:\/\//i.test(url) ? url : `nats://${url}`;
  try {
    return new URL(withScheme).hostname.replace(/^\[|\]$/g, '');
  } catch {
    return url;
  }
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

function serverTls(env: Env): ServerTlsFiles | null {
  const cert = env.PARLEY_TLS_CERT;
  const key = env.PARLEY_TLS_KEY;
  if (!cert && !key) return null;
  if (!cert || !key) throw new ConfigError('PARLEY_TLS_CERT and PARLEY_TLS_KEY go together: set both (PEM files) or neither');
  return { certFile: readable(cert, 'PARLEY_TLS_CERT'), keyFile: readable(key, 'PARLEY_TLS_KEY') };
}

function natsTls(env: Env): NatsTlsFiles | null {
  const { PARLEY_NATS_TLS_CA: ca, PARLEY_NATS_TLS_CERT: cert, PARLEY_NATS_TLS_KEY: key } = env;
  if (!ca && !cert && !key) return null;
  if (Boolean(cert) !== Boolean(key)) throw new ConfigError('PARLEY_NATS_TLS_CERT and PARLEY_NATS_TLS_KEY go together: set both (PEM files) or neither');
  return {
    ...(ca && { caFile: readable(ca, 'PARLEY_NATS_TLS_CA') }),
    ...(cert && { certFile: readable(cert, 'PARLEY_NATS_TLS_CERT') }),
    ...(key && { keyFile: readable(key, 'PARLEY_NATS_TLS_KEY') }),
  };
}

function natsAuth(env: Env): NatsAuth | null {
  const { PARLEY_NATS_USER: user, PARLEY_NATS_PASSWORD: password, PARLEY_NATS_TOKEN: token, PARLEY_NATS_NKEY: nkey, PARLEY_NATS_CREDS: creds } = env;
  const given = [user || password ? 'PARLEY_NATS_USER/PARLEY_NATS_PASSWORD' : '', token ? 'PARLEY_NATS_TOKEN' : '', nkey ? 'PARLEY_NATS_NKEY' : '', creds ? 'PARLEY_NATS_CREDS' : ''].filter(Boolean);
  if (given.length > 1) throw new ConfigError(`NATS takes one way to authenticate, got ${given.join(' and ')}: keep one`);
  if (user || password) {
    if (!user || !password) throw new ConfigError('PARLEY_NATS_USER and PARLEY_NATS_PASSWORD go together: set both or neither');
    return { kind: 'user', user, password };
  }
  if (token) return { kind: 'token', token };
  if (nkey) return { kind: 'nkey', seedFile: readable(nkey, 'PARLEY_NATS_NKEY') };
  if (creds) return { kind: 'creds', credsFile: readable(creds, 'PARLEY_NATS_CREDS') };
  return null;
}

/** An absolute path to a file the node can read now, else a ConfigError naming the setting. */
function readable(file: string, setting: string): string {
  const path = resolve(file);
  try {
    accessSync(path, constants.R_OK);
  } catch (err) {
    throw new ConfigError(`${setting}: cannot read ${path} (${(err as { code?: string }).code ?? (err as Error).message}); give the path of a readable file`, { cause: err });
  }
  return path;
}

function flag(env: Env, name: string): boolean {
  const raw = env[name];
  if (raw === undefined || raw === '' || raw === '0' || raw === 'false' || raw === 'off') return false;
  if (raw === '1' || raw === 'true' || raw === 'on') return true;
  throw new ConfigError(`${name} must be 1 or 0, got "${raw}"`);
}
