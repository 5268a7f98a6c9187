/**
 * A real identity provider for tests: a node:http server on a random port serving a JWKS
 * of keys generated in the test (jose's generateKeyPair/exportJWK), and a signer for
 * tokens with any of them. It counts the JWKS fetches it answers, so a test can bound
 * how often a node asks; keys can be added (rotation) and withdrawn while it runs, and it
 * can be made to fail (answers 500) to play an outage.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, exportSPKI, generateKeyPair, SignJWT, type CryptoKey, type JWK, type JWTPayload } from 'jose';

export type Alg = 'RS256' | 'ES256' | 'EdDSA';

export interface SigningKey {
  kid: string;
  alg: Alg;
  privateKey: CryptoKey;
  publicJwk: JWK;
  /** The public key as PEM (SPKI), for PARLEY_JWT_PUBLIC_KEY_FILE. */
  publicPem: string;
}

export const TEST_ISSUER = 'https://id.parley.test';
export const TEST_AUDIENCE = 'parley-test';

/** A fresh key pair, not published anywhere until added to a provider. */
export async function newSigningKey(alg: Alg = 'ES256', kid = `${alg}-${crypto.randomUUID().slice(0, 8)}`): Promise<SigningKey> {
  const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
  return { kid, alg, privateKey, publicJwk, publicPem: await exportSPKI(publicKey) };
}

/** Signs exactly these claims (iat/exp not added) with `key`, its kid in the header unless `kid` says otherwise (null: none). */
export async function signWith(key: SigningKey, claims: JWTPayload, kid: string | null = key.kid): Promise<string> {
  return new SignJWT(claims).setProtectedHeader({ alg: key.alg, typ: 'JWT', ...(kid !== null && { kid }) }).sign(key.privateKey);
}

/** Claims of a valid token for `sub` from the test issuer and for the test audience, ending in `ttlSeconds`. */
export function claimsFor(sub: string, extra: JWTPayload = {}, ttlSeconds = 600): JWTPayload {
  const now = Math.floor(Date.now() / 1000);
  return { sub, iss: TEST_ISSUER, aud: TEST_AUDIENCE, iat: now, exp: now + ttlSeconds, ...extra };
}

export interface TestIdentityProvider {
  /** The JWKS URL (PARLEY_JWKS_URL). */
  readonly jwksUrl: string;
  /** JWKS requests answered so far. */
  readonly fetches: number;
  /** The key new tokens are signed with (the first one, until rotated). */
  readonly current: SigningKey;
  /** Every key published now. */
  readonly keys: readonly SigningKey[];
  /** A token from this provider for `sub` (valid issuer, audience, an hour left). */
  token(sub: string, extra?: JWTPayload): Promise<string>;
  /** Publishes a new key and signs with it from now on. */
  rotate(alg?: Alg): Promise<SigningKey>;
  /** Stops publishing a key. */
  withdraw(kid: string): void;
  /** While true, the JWKS endpoint answers 500. */
  failing: boolean;
  close(): Promise<void>;
}

export async function startIdentityProvider(algs: Alg[] = ['ES256']): Promise<TestIdentityProvider> {
  const keys: SigningKey[] = [];
  for (const alg of algs) keys.push(await newSigningKey(alg));
  let current = keys[0]!;
  let fetches = 0;
  const server: Server = createServer((req, res) => {
    if (req.url !== '/.well-known/jwks.json') {
      res.writeHead(404).end();
      return;
    }
    fetches++;
    if (provider.failing) {
      res.writeHead(500).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: keys.map((k) => k.publicJwk) }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const provider: TestIdentityProvider = {
    jwksUrl: `http://127.0.0.1:${port}/.well-known/jwks.json`,
    get fetches() {
      return fetches;
    },
    get current() {
      return current;
    },
    get keys() {
      return [...keys];
    },
    token: (sub, extra) => signWith(current, claimsFor(sub, extra)),
    async rotate(alg = current.alg) {
      current = await newSigningKey(alg);
      keys.push(current);
      return current;
    },
    withdraw(kid) {
      const i = keys.findIndex((k) => k.kid === kid);
      if (i >= 0) keys.splice(i, 1);
    },
    failing: false,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  return provider;
}
