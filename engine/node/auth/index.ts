/**
 * Bearer tokens: where a request carries one (bearer.ts), how it is verified (jose, with
 * the node's key source, verifier.ts), what the node takes from it (claims.ts), and how
 * the node's own HS256 tokens are minted (sign.ts).
 */
export { bearerOf, authFrameToken, type TokenCarrier } from './bearer.js';
export { claimsOf, isUserId, MAX_SUB_LENGTH, type TokenClaims } from './claims.js';
export { DEFAULT_TTL_SECONDS, signClaims, signToken, type Role } from './sign.js';
export { createTokenVerifier, MAX_TOKEN_LENGTH, type TokenVerifier, type VerifierOptions } from './verifier.js';
