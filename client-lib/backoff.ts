/**
 * Reconnect delays: exponential with "equal jitter" — half the window fixed, half random —
 * so a node restart does not see every client return in the same millisecond, and no
 * client hammers it with near-zero delays either.
 */
export interface BackoffOptions {
  /** Window for the first retry, in ms (default 250). */
  initialMs?: number;
  /** Largest window, in ms (default 15 000). */
  maxMs?: number;
}

/** The delay before retry number `attempt` (0-based). */
export function backoffDelay(attempt: number, options: BackoffOptions = {}, random: () => number = Math.random): number {
  const initial = options.initialMs ?? 250;
  const max = options.maxMs ?? 15_000;
  const window = Math.min(max, initial * 2 ** Math.min(attempt, 30));
  return window / 2 + random() * (window / 2);
}
