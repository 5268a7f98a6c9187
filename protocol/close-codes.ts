/**
 * WebSocket close codes, shared by server and client.
 *
 * 4400–4499 are final: the client must not reconnect with the same credentials.
 * Every other code (1001 going away, 1006 abnormal, 1011, 4500–4599) is transient: retry
 * with backoff.
 */
export const CLOSE = {
  /** No token, or an invalid or expired one. Get a new token before reconnecting. */
  unauthorized: 4401,
  /** The token is valid but the user may not connect. */
  forbidden: 4403,
  /** No `auth` frame arrived in time after a token-less upgrade. */
  authTimeout: 4408,
  /** The client kept flooding after being told it was rate limited. */
  policyViolation: 4429,
  /** The node is shutting down or its store is unavailable; reconnect elsewhere or later. */
  tryAgainLater: 4503,
  /** The client read too slowly and its send buffer filled; reconnect and catch up from the last seq. */
  slowConsumer: 4504,
} as const;

export type CloseCode = (typeof CLOSE)[keyof typeof CLOSE];

/** True when the client should not reconnect after this close code. */
export function isFinalClose(code: number): boolean {
  return code >= 4400 && code <= 4499;
}
