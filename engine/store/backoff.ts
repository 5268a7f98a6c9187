/**
 * The server's one backoff (the client has its own, client-lib/backoff.ts): the pause
 * before retry `attempt` (0-based) doubles from `initialMs` up to `maxMs`. With jitter it
 * is drawn from that window — 'equal': its upper half, so retries after one outage spread
 * out but never come at once; 'full': anywhere in it.
 */
export interface Backoff {
  initialMs: number;
  maxMs: number;
  jitter?: 'equal' | 'full';
}

export function backoffDelay(attempt: number, backoff: Backoff, random: () => number = Math.random): number {
  const window = Math.min(backoff.maxMs, backoff.initialMs * 2 ** Math.min(Math.max(0, attempt), 30));
  if (backoff.jitter === 'equal') return window / 2 + random() * (window / 2);
  if (backoff.jitter === 'full') return random() * window;
  return window;
}
