/**
 * How a node proves itself to NATS and checks NATS back: TLS files (nats.js reads them
 * on every (re)connect, so renewed files are picked up by the next reconnect) and one
 * kind of credentials. A seed or .creds file is read now, so a bad one stops the start
 * with the setting's name, and re-read on every connect, so a rotated one is used; a
 * file that is missing or unreadable then keeps the last good one rather than break the
 * reconnect loop.
 */
import { readFileSync } from 'node:fs';
import {
  credsAuthenticator,
  nkeyAuthenticator,
  nkeys,
  tokenAuthenticator,
  usernamePasswordAuthenticator,
  type Authenticator,
  type NodeConnectionOptions,
} from '@nats-io/transport-node';

/** The node's NATS settings (NodeConfig's natsTls and natsAuth), declared here as the cluster needs them. */
export interface NatsSecuritySettings {
  natsTls?: { caFile?: string; certFile?: string; keyFile?: string } | null;
  natsAuth?:
    | { kind: 'user'; user: string; password: string }
    | { kind: 'token'; token: string }
    | { kind: 'nkey'; seedFile: string }
    | { kind: 'creds'; credsFile: string }
    | null;
}

/** The part of nats.js' connect options that carries TLS and credentials. */
export type NatsSecurity = Pick<NodeConnectionOptions, 'tls' | 'authenticator'>;

/** A ConfigError-like failure naming the setting; the node turns it into its start-up line. */
export class NatsCredentialsError extends Error {
  override readonly name = 'ConfigError';
  readonly code = 'invalid_config';
}

export function natsSecurity(settings: NatsSecuritySettings): NatsSecurity {
  const auth = settings.natsAuth;
  return {
    // An object (even an empty one) makes nats.js insist on TLS; null or absent: upgrade only when the server asks.
    ...(settings.natsTls && { tls: { ...settings.natsTls } }),
    ...(auth && { authenticator: authenticatorFor(auth) }),
  };
}

function authenticatorFor(auth: NonNullable<NatsSecuritySettings['natsAuth']>): Authenticator {
  switch (auth.kind) {
    case 'user':
      return usernamePasswordAuthenticator(auth.user, auth.password);
    case 'token':
      return tokenAuthenticator(auth.token);
    case 'nkey':
      return nkeyAuthenticator(latestGood(auth.seedFile, 'PARLEY_NATS_NKEY', seedOf));
    case 'creds':
      return credsAuthenticator(latestGood(auth.credsFile, 'PARLEY_NATS_CREDS', credsOf));
    default:
      return auth satisfies never;
  }
}

/** An nkey seed file: the seed (SU…), surrounding whitespace allowed. */
function seedOf(text: string): Uint8Array {
  const bytes = new TextEncoder().encode(text.trim());
  nkeys.fromSeed(bytes);
  return bytes;
}

/** A .creds file as `nsc` writes it; parsing it and signing an empty nonce checks the JWT block and the seed. */
function credsOf(text: string): Uint8Array {
  const bytes = new TextEncoder().encode(text);
  credsAuthenticator(bytes)('');
  return bytes;
}

/** Reads `file` now (a failure throws, naming `setting`), then on each call, keeping the last contents `parse` accepted. */
function latestGood(file: string, setting: string, parse: (text: string) => Uint8Array): () => Uint8Array {
  const read = (): Uint8Array => parse(readFileSync(file, 'utf8'));
  let good: Uint8Array;
  try {
    good = read();
  } catch (err) {
    throw new NatsCredentialsError(`${setting}: cannot use ${file}: ${(err as Error).message}; give the path of a valid ${setting === 'PARLEY_NATS_NKEY' ? 'nkey seed (SU…)' : '.creds'} file`, {
      cause: err,
    });
  }
  return () => {
    try {
      good = read();
    } catch {
      // Being rewritten or gone: the last good credentials are still the best guess.
    }
    return good;
  };
}
