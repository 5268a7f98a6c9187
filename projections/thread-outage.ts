/**
 * A read-model thread that died is an outage until its successor starts: reported for
 * each of its read models, and restarted after a pause that grows with deaths in a row.
 */
import { backoffDelay } from '../engine/store/index.js';
import type { ProjectionFailure } from './status.js';

/** Pauses before restarting a read-model thread that died, growing while it keeps dying. */
const RESTART = { initialMs: 100, maxMs: 10_000 };
/** A thread that ran this long before dying starts the backoff over. */
const STABLE_MS = 60_000;

export interface Outage {
  error: string;
  since: number;
  attempts: number;
  nextRetryAt: number | null;
}

/**
 * The outage after a death at `now`: the attempt count grows while the thread is down or
 * it died before running STABLE_MS (`lastAttempts`: deaths in a row so far); `delay`: the
 * pause before the next start.
 */
export function outageAfterDeath(
  previous: Outage | null,
  lastAttempts: number,
  startedAt: number,
  now: number,
  error: string,
): { outage: Outage; delay: number } {
  const attempts = previous || now - startedAt < STABLE_MS ? (previous?.attempts ?? lastAttempts) + 1 : 1;
  const delay = backoffDelay(attempts - 1, RESTART);
  return { outage: { error, since: previous?.since ?? now, attempts, nextRetryAt: now + delay }, delay };
}

/** A read model's failure while the thread is down; `position`: the one after its checkpoint. */
export function outageFailure(o: Outage, position: number): ProjectionFailure {
  return {
    position,
    eventType: null,
    stream: null,
    error: `the read-model thread stopped: ${o.error}; restarting`,
    code: 'THREAD_EXIT',
    since: o.since,
    attempts: o.attempts,
    nextRetryAt: o.nextRetryAt,
  };
}
