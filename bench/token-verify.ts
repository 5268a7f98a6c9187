/**
 * `node --import tsx bench/token-verify.ts [N]`: what one token verification costs on the
 * event loop, per key source (the node's HS256 secret; a public key for RS256, ES256,
 * EdDSA), through the node's own verifier (jose), for N different tokens; then for one
 * token sent again and again (remembered: verified-tokens.ts). Every HTTP request and
 * every socket opened pays one. Sequential, after a warm-up: a cost, not a rate. Wall
 * time (with WebCrypto's hops to the thread pool) and event-loop busy time (what other
 * work waits for) are printed apart.
 */
import { createPublicKey } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { exportSPKI, generateKeyPair, SignJWT, type CryptoKey } from 'jose';
import { createTokenVerifier, signToken } from '../engine/node/auth/index.js';
import { authSettings, type AuthSettings } from '../engine/node/config/index.js';
import { verifyBenchToken } from './jwt.js';

const N = Number(process.argv[2] ?? 3000);
const SECRET = 'bench-secret-of-at-least-32-characters!!';
const base = authSettings({}, (m) => new Error(m));

async function perVerify(label: string, tokens: string[], verify: (token: string) => unknown): Promise<void> {
  for (let i = 0; i < 100; i++) await verify(tokens[i % tokens.length]!);
  const started = process.hrtime.bigint();
  const elu = performance.eventLoopUtilization();
  for (let i = 0; i < N; i++) if (!(await verify(tokens[i % tokens.length]!))) throw new Error(`${label}: refused`);
  const busy = performance.eventLoopUtilization(elu);
  const us = Number(process.hrtime.bigint() - started) / 1000 / N;
  const loopUs = (busy.active * 1000) / N;
  console.log(`${label.padEnd(44)} ${us.toFixed(1).padStart(7)} µs wall, ${loopUs.toFixed(1).padStart(7)} µs of event loop`);
}

const users = Array.from({ length: N + 100 }, (_, i) => `user-${i}`);
const hsTokens = users.map((sub) => signToken(SECRET, { sub }));
await perVerify('HS256, one HMAC by hand (the old code)', hsTokens, (t) => verifyBenchToken(t, SECRET));
const secretVerifier = createTokenVerifier(base, SECRET);
await perVerify('HS256 secret (jose), each token once', hsTokens.slice(100), (t) => secretVerifier.verify(t));
await perVerify('HS256 secret (jose), one token again', hsTokens.slice(0, 1), (t) => secretVerifier.verify(t));
for (const alg of ['RS256', 'ES256', 'EdDSA'] as const) {
  const { publicKey, privateKey } = await generateKeyPair(alg);
  const pem = createPublicKey(await exportSPKI(publicKey)).export({ type: 'spki', format: 'pem' }).toString();
  const settings: AuthSettings = { ...base, keySource: { kind: 'pem', file: '(memory)', pem }, algorithms: [alg] };
  const verifier = createTokenVerifier(settings, '');
  const sign = (sub: string, key: CryptoKey) => new SignJWT({ sub }).setProtectedHeader({ alg }).setIssuedAt().setExpirationTime('1h').sign(key);
  const tokens = await Promise.all(users.map((sub) => sign(sub, privateKey)));
  await perVerify(`${alg} public key (jose), each token once`, tokens.slice(100), (t) => verifier.verify(t));
}
