/**
 * Tokens for the load generators, minted by Parley's own signToken (the format every
 * system under test verifies). Apart from jwt.ts so the peer servers, which only verify,
 * load nothing of Parley.
 */
import { signToken } from '../engine/node/auth/index.js';
import { BENCH_SECRET } from './jwt.js';

export function signBenchToken(sub: string, secret = BENCH_SECRET): string {
  // Parley refuses tokens without `exp`; a day outlasts any benchmark run.
  return signToken(secret, { sub, ttlSeconds: 86_400 });
}
